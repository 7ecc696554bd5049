package client

import (
	"context"
	"net"

	"github.com/redis/go-redis/v9"

	"github.com/redis-cache-go/redis-cache-go/core/breaker"
)

// breakerHook puts a Client's calls behind its circuit breaker: while the
// breaker is open a command fails at once (KindConnection, the message says
// the breaker is open) instead of dialling or waiting for the timeout.
type breakerHook struct{ b *breaker.Breaker }

func (h breakerHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if err := h.b.Allow(); err != nil {
			return nil, err
		}
		return next(ctx, network, addr)
	}
}

func (h breakerHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if err := h.b.Allow(); err != nil {
			cmd.SetErr(err)
			return err
		}
		err := next(ctx, cmd)
		h.record(err)
		return err
	}
}

func (h breakerHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if err := h.b.Allow(); err != nil {
			for _, cmd := range cmds {
				cmd.SetErr(err)
			}
			return err
		}
		err := next(ctx, cmds)
		h.record(err)
		return err
	}
}

// record counts connection and timeout failures; a reply (even an error
// reply or a miss) shows the server is answering.
func (h breakerHook) record(err error) {
	if err == nil || err == redis.Nil {
		h.b.Record(false)
		return
	}
	if err == breaker.ErrOpen {
		return
	}
	k := classify(err)
	h.b.Record(k == KindConnection || k == KindTimeout)
}
