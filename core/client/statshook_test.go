package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redis-cache-go/redis-cache-go/core/breaker"
	"github.com/redis-cache-go/redis-cache-go/core/stats"
)

func TestOutcome(t *testing.T) {
	tests := []struct {
		err  error
		want stats.Outcome
	}{
		{nil, stats.OK},
		{redis.Nil, stats.OK},
		{io.EOF, stats.ErrConnection},
		{breaker.ErrOpen, stats.ErrConnection},
		{context.DeadlineExceeded, stats.ErrTimeout},
		{redis.ErrPoolTimeout, stats.ErrTimeout},
		{redis.ErrClosed, stats.ErrOther},
		{fmt.Errorf("wrapped: %w", io.ErrUnexpectedEOF), stats.ErrConnection},
	}
	for _, tt := range tests {
		if got := Outcome(tt.err); got != tt.want {
			t.Errorf("Outcome(%v) = %v; want %v", tt.err, got, tt.want)
		}
	}
}

// runHook sends one command named name through the stats hook; the fake
// next step answers reply.
func runHook(s *stats.Server, name string, reply error) {
	h := statsHook{s}
	next := func(ctx context.Context, cmd redis.Cmder) error { cmd.SetErr(reply); return reply }
	cmd := redis.NewStringCmd(context.Background(), name, "k")
	_ = h.ProcessHook(next)(context.Background(), cmd)
}

func TestStatsHookSkipsHandshakesAndNoScript(t *testing.T) {
	var s stats.Server
	runHook(&s, "get", nil)
	runHook(&s, "select", nil)
	runHook(&s, "auth", errors.New("WRONGPASS"))
	runHook(&s, "evalsha", redis.ErrNoScript)
	runHook(&s, "eval", nil)
	snap := s.Snapshot()
	if snap.Commands != 2 || snap.Calls["get"] != 1 || snap.Calls["script"] != 1 || snap.Errors != 0 {
		t.Errorf("after get, select, auth, evalsha NOSCRIPT, eval: %+v; want get 1, script 1, no errors", snap)
	}
}

func BenchmarkOutcomeOK(b *testing.B) {
	for i := 0; i < b.N; i++ {
		_ = Outcome(nil)
	}
}

// BenchmarkStatsHook is the per-command cost the hook adds around a
// command (clock reads, classification, counters), with a no-op next.
func BenchmarkStatsHook(b *testing.B) {
	var s stats.Server
	h := statsHook{&s}
	next := h.ProcessHook(func(ctx context.Context, cmd redis.Cmder) error { return nil })
	ctx := context.Background()
	cmd := redis.NewStringCmd(ctx, "get", "k")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = next(ctx, cmd)
	}
}
