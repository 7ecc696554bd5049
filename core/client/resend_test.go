package client

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestResendTries(t *testing.T) {
	sent := &staleError{err: io.EOF, sent: true}
	unsent := &staleError{err: errPeerClosed}
	yes := func() bool { return true }
	no := func() bool { return false }
	tests := []struct {
		name       string
		errs       []error // the errors of the successive tries
		resendable func() bool
		want       []bool // again() after each
	}{
		{"success", []error{nil}, yes, []bool{false}},
		{"a fresh connection's EOF", []error{io.EOF}, yes, []bool{false}},
		{"a timeout", []error{os.ErrDeadlineExceeded}, yes, []bool{false}},
		{"stale, resendable: once", []error{sent, sent}, yes, []bool{true, false}},
		{"stale, wrapped", []error{fmt.Errorf("pipeline: %w", sent)}, yes, []bool{true}},
		{"stale, not resendable", []error{sent}, no, []bool{false}},
		{"nothing sent: any command, up to the limit", []error{unsent, unsent, unsent}, no, []bool{true, true, false}},
		{"dead idle ones, then a sent one", []error{unsent, unsent, sent, sent}, yes, []bool{true, true, true, false}},
	}
	for _, tt := range tests {
		var tries resendTries
		for i, err := range tt.errs {
			if got := tries.again(err, 2, tt.resendable); got != tt.want[i] {
				t.Errorf("%s: again after try %d (%v): got %v; want %v", tt.name, i+1, err, got, tt.want[i])
			}
		}
	}
}

func TestMayHaveRun(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{redis.Nil, false},
		{io.EOF, true},
		{&net.OpError{Op: "read", Err: syscall.ECONNRESET}, true},
		{os.ErrDeadlineExceeded, true},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, false},
		{redis.ErrPoolTimeout, false},
		{redis.ErrClosed, false},
		{&finalError{io.EOF}, false},
		{proto("MOVED 3999 127.0.0.1:6381"), false},
		{proto("LOADING Redis is loading the dataset in memory"), false},
	}
	for _, tt := range tests {
		if got := mayHaveRun(tt.err); got != tt.want {
			t.Errorf("mayHaveRun(%v): got %v; want %v", tt.err, got, tt.want)
		}
	}
}

// proto is an error reply as go-redis returns it.
type proto string

func (e proto) Error() string { return string(e) }
func (proto) RedisError()     {}

func TestFinalErrorKeepsItsKind(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want Kind
	}{
		{&finalError{io.EOF}, KindConnection},
		{&finalError{os.ErrDeadlineExceeded}, KindTimeout},
	} {
		if got := classify(tt.err); got != tt.want {
			t.Errorf("classify(%v): got %v; want %v", tt.err, got, tt.want)
		}
	}
	if errors.Is(&finalError{io.EOF}, io.EOF) {
		t.Error("a finalError unwraps to its network error: go-redis would retry it")
	}
}

// pair returns a tracked client connection and the server side of a
// loopback TCP connection.
func pair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return track(c), s
}

// exchange writes a command on c, has s answer reply and reads it on c.
func exchange(t *testing.T, c, s net.Conn, reply string) {
	t.Helper()
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if _, err := s.Read(buf); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte(reply)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf[:len(reply)]); err != nil {
		t.Fatal(err)
	}
}

func TestTrackedConnMarksABrokenReusedConnection(t *testing.T) {
	read := func(c net.Conn) error {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Read(make([]byte, 64))
		return err
	}
	isStale := func(err error) bool { var s *staleError; return errors.As(err, &s) && s.sent }

	c, s := pair(t)
	if _, ok := c.(syscall.Conn); !ok {
		t.Fatal("a tracked plain socket hides its SyscallConn: go-redis could not check it before reuse")
	}
	exchange(t, c, s, "+PONG\r\n")
	if _, err := c.Write([]byte("GET k\r\n")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := read(c); !isStale(err) || !broken(err) {
		t.Fatalf("the peer gone before any reply, on a connection that answered before: got %v; want a stale error", err)
	}

	c, s = pair(t)
	_, _ = c.Write([]byte("GET k\r\n"))
	s.Close()
	if err := read(c); isStale(err) || !broken(err) {
		t.Fatalf("the peer gone on a connection's first command: got %v; want a plain EOF or reset", err)
	}

	c, s = pair(t)
	exchange(t, c, s, "+PONG\r\n")
	_, _ = c.Write([]byte("GET k\r\n"))
	_, _ = s.Read(make([]byte, 64)) // read: the close is a FIN, not a reset that may drop the partial reply
	_, _ = s.Write([]byte("$5\r\nab"))
	s.Close()
	_ = read(c) // the partial reply
	if err := read(c); isStale(err) || !broken(err) {
		t.Fatalf("the peer gone in the middle of a reply: got %v; want a plain EOF or reset", err)
	}
}

func TestPeerClosed(t *testing.T) {
	c, s := pair(t)
	sc := c.(syscall.Conn)
	if peerClosed(sc) {
		t.Fatal("an open idle connection looks closed")
	}
	_, _ = s.Write([]byte("x")) // bytes waiting (a TLS record) are no sign of death
	if peerClosed(sc) {
		t.Fatal("an open connection with bytes waiting looks closed")
	}
	s.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !peerClosed(sc) {
		if time.Now().After(deadline) {
			t.Fatal("a connection its peer closed still looks open")
		}
		time.Sleep(time.Millisecond) // polled: the FIN crosses loopback
	}
}
