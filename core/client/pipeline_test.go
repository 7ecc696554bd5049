package client

import (
	"context"
	"strings"
	"testing"

	"github.com/redis-cache-go/redis-cache-go/internal/redistest"
)

func TestPipelineRepliesAndErrorsByPosition(t *testing.T) {
	srv := redistest.Start(t)
	c := New(Options{Addr: srv.Addr})
	defer c.Close()
	ctx := context.Background()
	replies, errs, err := c.Pipeline(ctx, [][]any{
		{"set", "k", "v"}, {"get", "k"}, {"get", "missing"}, {"rpush", "k", "x"}, {"incr", "n"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if replies[0] != "OK" || replies[1] != "v" || replies[2] != nil || replies[4] != int64(1) {
		t.Fatalf("replies %#v", replies)
	}
	if errs[3] == nil || !strings.HasPrefix(errs[3].Error(), "WRONGTYPE") || errs[0] != nil || errs[2] != nil {
		t.Fatalf("errors by position %#v", errs)
	}
	if r, e, err := c.Pipeline(ctx, nil); err != nil || len(r) != 0 || len(e) != 0 {
		t.Fatalf("empty pipeline: %v %v %v", r, e, err)
	}
}

func TestPipelineToADeadServerNamesIt(t *testing.T) {
	addr := redistest.FreeAddr(t)
	c := New(Options{Addr: addr, Password: "pw-not-shown"})
	defer c.Close()
	_, _, err := c.Pipeline(context.Background(), [][]any{{"restore", "k", 0, "payload"}})
	if KindOf(err) != KindConnection || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "RESTORE") ||
		strings.Contains(err.Error(), "pw-not-shown") {
		t.Fatalf("error %v", err)
	}
}
