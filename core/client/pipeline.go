package client

import (
	"context"
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Pipeline sends cmds (each one's first element is the command name, the
// rest its arguments, keys as given) in one pipeline — in a Cluster, one
// per node, concurrently, each command routed by its key — and returns one
// reply per command as Do decodes it (nil for a nil reply). An error reply
// of one command is returned in replyErrs at its position (as a redis.Error
// whose message is the server's, e.g. "BUSYKEY …"), and the others' replies
// stand. err is a failure of the pipeline itself (a connection error or a
// timeout: no reply can be trusted, some commands may have run), an *Error
// naming the server.
func (c *Client) Pipeline(ctx context.Context, cmds [][]any) (replies []any, replyErrs []error, err error) {
	replies = make([]any, len(cmds))
	replyErrs = make([]error, len(cmds))
	if len(cmds) == 0 {
		return replies, replyErrs, nil
	}
	sent := make([]*redis.Cmd, len(cmds))
	_, perr := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, args := range cmds {
			sent[i] = p.Do(ctx, args...)
		}
		return nil
	})
	op := "PIPELINE"
	if name, ok := cmds[0][0].(string); ok {
		op = strings.ToUpper(name)
	}
	for i, cmd := range sent {
		v, e := cmd.Result()
		var reply redis.Error
		switch {
		case e == nil:
			replies[i] = v
		case e == redis.Nil:
		case errors.As(e, &reply):
			replyErrs[i] = reply
		default:
			return replies, replyErrs, c.wrap(op, e)
		}
	}
	if perr != nil && perr != redis.Nil {
		var reply redis.Error
		if !errors.As(perr, &reply) {
			return replies, replyErrs, c.wrap(op, perr)
		}
	}
	return replies, replyErrs, nil
}
