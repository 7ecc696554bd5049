package client

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/respguard"
	"github.com/redis-cache-go/redis-cache-go/internal/hostile"
)

// hostileServer answers go-redis' connection handshake (HELLO is refused,
// so it falls back to RESP2), then the first GET of its first connection
// with reply and every later GET with "$2\r\nok\r\n". It exists only to
// send replies a real Redis never sends; loopback only.
func hostileServer(t *testing.T, reply func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for first := true; ; first = false {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			hostile := first
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					switch cmd := strings.ToUpper(string(buf[:n])); {
					case strings.Contains(cmd, "HELLO"):
						_, _ = io.WriteString(c, "-ERR unknown command 'HELLO'\r\n")
					case strings.Contains(cmd, "GET") && hostile:
						hostile = false
						reply(c)
					case strings.Contains(cmd, "GET"):
						_, _ = io.WriteString(c, "$2\r\nok\r\n")
					default:
						_, _ = io.WriteString(c, "+OK\r\n")
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

func say(s string) func(net.Conn) { return func(c net.Conn) { _, _ = io.WriteString(c, s) } }

// flood writes chunk n times (a reply nested n arrays deep, for "*1\r\n").
func flood(chunk string, n int) func(net.Conn) {
	block := []byte(strings.Repeat(chunk, 16<<10))
	return func(c net.Conn) {
		for left := n; left > 0; left -= 16 << 10 {
			if _, err := c.Write(block); err != nil {
				return
			}
		}
	}
}

func TestGoRedisPathRefusesHostileReplies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply func(net.Conn)
	}{
		// Unguarded, go-redis recurses once per level until the goroutine
		// stack limit kills the process.
		{"20M nested arrays", flood("*1\r\n", 20_000_000)},
		// Unguarded: a 10 GB allocation (fatal "out of memory" where it cannot be had).
		{"10 GB bulk", say("$9999999999\r\nabc")},
		// Unguarded: a "makeslice: len out of range" panic.
		{"1 PB bulk", say("$999999999999999\r\nabc")},
		// Unguarded: a 16 GB allocation.
		{"1G-item array", say("*999999999\r\n:1\r\n")},
		// Unguarded: 512 MiB allocated for 3 bytes received.
		{"512 MiB bulk, 3 bytes sent", func(c net.Conn) { say("$536870000\r\nabc")(c); c.Close() }},
		{"nested 100M-item arrays", func(c net.Conn) { say(strings.Repeat("*100000000\r\n", 10))(c); c.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(Options{Addr: hostileServer(t, tc.reply), ReadTimeout: 10 * time.Second, PoolSize: 1})
			defer c.Close()
			c.wire = nil // every command through go-redis
			var err error
			alloc := hostile.Allocated(func() { _, err = c.Do(context.Background(), "GET", "a") })
			if KindOf(err) != KindConnection {
				t.Fatalf("got %v; want a connection error", err)
			}
			if alloc > 8<<20 {
				t.Fatalf("the failed call allocated %d bytes; want under 8 MiB", alloc)
			}
			v, err := c.Do(context.Background(), "GET", "a")
			if err != nil || v != "ok" {
				t.Fatalf("next call: got %v, %v; want ok on a fresh connection", v, err)
			}
		})
	}
}

func TestGoRedisPathReportsProtocolErrors(t *testing.T) {
	c := New(Options{Addr: hostileServer(t, say("*1\r\n*1\r\n*1\r\n$9999999999\r\n"))})
	defer c.Close()
	c.wire = nil
	_, err := c.Do(context.Background(), "GET", "a")
	if !errors.Is(err, respguard.ErrProtocol) || KindOf(err) != KindConnection {
		t.Fatalf("got %v; want a connection error wrapping respguard.ErrProtocol", err)
	}
}
