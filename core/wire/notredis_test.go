package wire

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// answerAndClose listens on loopback; every connection gets reply (once
// something was received) and is closed. It stands in for a service that is
// not Redis on the cache's port.
func answerAndClose(t *testing.T, reply string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			_, _ = c.Read(buf)
			_, _ = c.Write([]byte(reply))
			c.Close()
		}
	}()
	return l.Addr().String()
}

func TestPeerThatIsNotRedis(t *testing.T) {
	for _, tc := range []struct {
		name, reply string
		eof         bool   // the reply has no CRLF: the peer's close ends it
		extra       string // more the message must say
	}{
		{"http/1.1", "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n", false, `unexpected reply "HTTP/1.1 400 Bad Request"`},
		{"http/0.9", "<!DOCTYPE HTML>\n<html></html>\n", true, `the peer sent "<!DOCTYPE HTML>\n`},
		{"tls alert", "\x15\x03\x01\x00\x02\x02\x46", true, "rediss://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, db := range []int{0, 1} { // 1: the reply to SELECT is read first
				p := New(Options{Addr: answerAndClose(t, tc.reply), DB: db, DialTimeout: 5 * time.Second,
					ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second})
				_, _, err := p.Get("k")
				p.Close()
				if !errors.Is(err, ErrNotRedis) {
					t.Fatalf("db %d: got %v; want an error wrapping ErrNotRedis", db, err)
				}
				if errors.Is(err, io.EOF) != tc.eof {
					t.Fatalf("db %d: errors.Is(err, io.EOF) = %v; want %v (%v)", db, !tc.eof, tc.eof, err)
				}
				if !strings.Contains(err.Error(), tc.extra) {
					t.Fatalf("db %d: got %q; want it to contain %q", db, err, tc.extra)
				}
			}
		})
	}
}

func TestStartsReply(t *testing.T) {
	for _, tc := range []struct {
		b    byte
		want bool
	}{{'+', true}, {'-', true}, {':', true}, {'$', true}, {'*', true}, {'%', true}, {'H', false}, {'<', false}, {0x15, false}} {
		if got := StartsReply(tc.b); got != tc.want {
			t.Fatalf("StartsReply(%q): got %v; want %v", tc.b, got, tc.want)
		}
	}
}
