package client

import (
	"context"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Do sends one arbitrary command, args[0] being its name, and returns the
// reply as RESP2 decodes it: a string for bulk and status replies, an
// int64 for integers, []any for arrays (an error element inside an array
// is a redis.Error value), nil for a nil reply. An error reply is a
// KindServer error. Keys are sent exactly as given (no prefix).
func (c *Client) Do(ctx context.Context, args ...any) (any, error) {
	if len(args) == 0 {
		return nil, &Error{Kind: KindArgument, Server: c.name, Op: "COMMAND", Err: errNoCommand}
	}
	v, err := c.rdb.Do(ctx, args...).Result()
	if err == redis.Nil {
		return nil, nil
	}
	if err != nil {
		name, _ := args[0].(string)
		return nil, c.wrap(strings.ToUpper(name), err)
	}
	return v, nil
}

type constError string

func (e constError) Error() string { return string(e) }

const errNoCommand = constError("no command name given")
