package main

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// go-redis prints pool dial failures to the host process's stderr. Every
// such failure already reaches the caller as an error naming the server, and
// with several servers a dead one would print a line on every call, so the
// library keeps quiet (Go programs using core/ directly keep go-redis'
// default logger).
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quietLogger{}) }
