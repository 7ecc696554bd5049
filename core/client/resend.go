package client

import (
	"context"
	"errors"
	"net"

	"github.com/redis/go-redis/v9"

	"github.com/redis-cache-go/redis-cache-go/core/retry"
)

// resendHook sends a command (or a pipeline) once more when its reused
// connection broke before any reply byte arrived (a *staleError, see
// staleconn.go) and core/retry says every command in it may run twice. A
// connection found closed before anything was written costs no round trip
// and sent nothing, so the command goes out again whatever it is, up to
// maxUnsent times (each time one dead idle connection is dropped). It sits
// inside the breaker hook: only the outcome of the last try is counted.
// guardedDialer wraps the connections it needs (see guard.go).
type resendHook struct{ maxUnsent int }

func (resendHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h resendHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		for tries := (resendTries{}); tries.again(err, h.maxUnsent, func() bool { return retry.Resendable(cmd.Args()) }); {
			cmd.SetErr(nil)
			err = next(ctx, cmd)
		}
		return err
	}
}

func (h resendHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		all := func() bool {
			for _, cmd := range cmds {
				if !retry.Resendable(cmd.Args()) {
					return false
				}
			}
			return true
		}
		for tries := (resendTries{}); tries.again(err, h.maxUnsent, all); {
			for _, cmd := range cmds {
				cmd.SetErr(nil)
			}
			err = next(ctx, cmds)
		}
		return err
	}
}

// resendTries counts the resends of one call.
type resendTries struct{ unsent, sent int }

// again reports whether a call that failed with err goes out once more,
// and counts it: a stale connection that sent nothing, up to maxUnsent
// times; one that sent the command, once, when resendable says it may.
func (t *resendTries) again(err error, maxUnsent int, resendable func() bool) bool {
	var s *staleError
	if err == nil || !errors.As(err, &s) {
		return false
	}
	if !s.sent {
		t.unsent++
		return t.unsent <= maxUnsent
	}
	if t.sent > 0 || !resendable() {
		return false
	}
	t.sent++
	return true
}

// finalHook, on every node of a Redis Cluster, keeps go-redis' ClusterClient
// from retrying a command that must not run twice: the ClusterClient sends
// a command again by itself after EOF, a reset or a timeout (up to
// MaxRedirects times), which for INCR's script or SET NX may apply it
// twice. Such an error of a command core/retry does not allow to resend
// becomes a *finalError, which go-redis' retry test does not recognise.
// MOVED, ASK and the other error replies (the command did not run) and
// dial errors (nothing was sent) are left as they are.
type finalHook struct{}

// finalError is an error after which the command must not be sent again.
// It deliberately has no Unwrap (go-redis would see the network error
// through it and retry); classify looks inside it.
type finalError struct{ err error }

func (e *finalError) Error() string { return e.err.Error() }

func (finalHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (finalHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if mayHaveRun(err) && !retry.Resendable(cmd.Args()) {
			err = &finalError{err}
			cmd.SetErr(err)
		}
		return err
	}
}

func (finalHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			if e := cmd.Err(); mayHaveRun(e) && !retry.Resendable(cmd.Args()) {
				cmd.SetErr(&finalError{e})
			}
		}
		if mayHaveRun(err) {
			for _, cmd := range cmds {
				if !retry.Resendable(cmd.Args()) {
					return &finalError{err}
				}
			}
		}
		return err
	}
}

// mayHaveRun reports whether a command that failed with err may have run
// on the server: its bytes may have left, and no reply says it did not.
func mayHaveRun(err error) bool {
	if err == nil || err == redis.Nil {
		return false
	}
	var re redis.Error
	var op *net.OpError
	var fe *finalError
	switch {
	case errors.As(err, &re), errors.As(err, &fe):
		return false
	case errors.As(err, &op) && op.Op == "dial":
		return false
	case errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrClosed):
		return false
	}
	return true
}
