package wire

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis-cache-go/redis-cache-go/internal/hostile"
)

// fakeServer is a loopback listener that answers the first command of its
// n-th connection with replies[n] (a function writing the reply; it may
// stream until the client hangs up) and every later connection with good.
// It exists only to send replies a real Redis never sends.
type fakeServer struct {
	l     net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func newFakeServer(t *testing.T, good string, replies ...func(net.Conn)) *fakeServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{l: l}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for n := 0; ; n++ {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			reply := func(w net.Conn) { _, _ = io.WriteString(w, good) }
			if n < len(replies) {
				reply = replies[n]
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				buf := make([]byte, 64<<10)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
					reply(c) // the first command's reply; the next ones are good
					reply = func(w net.Conn) { _, _ = io.WriteString(w, good) }
				}
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *fakeServer) addr() string { return s.l.Addr().String() }

// send writes a fixed reply.
func send(reply string) func(net.Conn) {
	return func(w net.Conn) { _, _ = io.WriteString(w, reply) }
}

// stream writes head, then chunk over and over until the client hangs up.
func stream(head, chunk string, times int) func(net.Conn) {
	block := []byte(strings.Repeat(chunk, max(1, (64<<10)/len(chunk))))
	perBlock := len(block) / len(chunk)
	return func(w net.Conn) {
		if _, err := io.WriteString(w, head); err != nil {
			return
		}
		for left := times; left > 0; left -= perBlock {
			b := block
			if left < perBlock {
				b = block[:left*len(chunk)]
			}
			if _, err := w.Write(b); err != nil {
				return
			}
		}
	}
}

// sendThenHangUp writes head and closes the connection.
func sendThenHangUp(head string) func(net.Conn) {
	return func(w net.Conn) {
		_, _ = io.WriteString(w, head)
		w.Close()
	}
}

func TestHostileRepliesAreProtocolErrorsThatCloseTheConnection(t *testing.T) {
	const deep = 20_000_000
	cases := []struct {
		name  string
		mget  bool
		reply func(net.Conn)
	}{
		{"20M nested arrays", false, stream("", "*1\r\n", deep)},
		{"20M nested arrays in MGET", true, stream("*2\r\n", "*1\r\n", deep)},
		{"bulk length overflowing int64", false, send("$9999999999999999999\r\n")},
		{"bulk length of 20 digits", false, send("$99999999999999999999\r\n")},
		{"negative bulk length other than -1", false, send("$-2\r\n")},
		{"array length overflowing int64", false, send("*9999999999999999999\r\n")},
		{"bulk above 512 MiB", false, send("$536870913\r\n")},
		{"array above 512 Mi items", false, send("*536870913\r\n")},
		{"bulk above 512 MiB three arrays deep", false, send("*1\r\n*1\r\n*1\r\n$9999999999\r\n")},
		{"array above 512 Mi items two arrays deep", false, send("*1\r\n*1\r\n*999999999999\r\n")},
		{"MGET element that is an array", true, send("*2\r\n*1\r\n$1\r\nx\r\n$1\r\ny\r\n")},
		{"MGET element that is an integer", true, send("*2\r\n:5\r\n$1\r\ny\r\n")},
		{"MGET element that is a status", true, send("*2\r\n+OK\r\n$1\r\ny\r\n")},
		{"MGET element above 512 MiB", true, send("*2\r\n$536870913\r\n")},
		{"MGET element with an overflowing length", true, send("*2\r\n$9999999999999999999\r\n$1\r\ny\r\n")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newFakeServer(t, "$2\r\nok\r\n", tc.reply)
			p := New(Options{Addr: s.addr(), ReadTimeout: 30 * time.Second})
			defer p.Close()
			var err error
			var found bool
			alloc := hostile.Allocated(func() {
				if tc.mget {
					var vals [][]byte
					vals, err = p.MGet([]string{"a", "b"})
					found = vals != nil
				} else {
					_, found, err = p.Get("a")
				}
			})
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("got found %v, error %v; want a protocol error", found, err)
			}
			if alloc > 1<<20 {
				t.Errorf("the failed call allocated %d bytes; want under 1 MiB", alloc)
			}
			if st := p.Stats(); st.TotalConns != 0 || st.IdleConns != 0 {
				t.Fatalf("after a protocol error: %+v; want the connection closed, none idle", st)
			}
			v, ok, err := p.Get("a")
			if err != nil || !ok || string(v) != "ok" {
				t.Fatalf("next Get: got %q, %v, %v; want ok from a fresh connection", v, ok, err)
			}
			if st := p.Stats(); st.Misses != 2 {
				t.Fatalf("dials after a protocol error and one more call: got %d; want 2 (a fresh connection)", st.Misses)
			}
		})
	}
}

func TestWrongTypeRepliesWithinTheDepthBoundKeepTheConnection(t *testing.T) {
	// A flat or shallow reply of the wrong type is read to its end: an error
	// reply for the call, and the connection stays usable.
	s := newFakeServer(t, "$2\r\nok\r\n", send("*2\r\n*1\r\n:1\r\n$3\r\nabc\r\n"))
	p := New(Options{Addr: s.addr()})
	defer p.Close()
	if _, _, err := p.Get("a"); !isServerError(err) {
		t.Fatalf("GET answered by a nested array: got %v; want an unexpected-reply error", err)
	}
	if v, ok, err := p.Get("a"); err != nil || !ok || string(v) != "ok" {
		t.Fatalf("next Get on the same connection: got %q, %v, %v", v, ok, err)
	}
	if st := p.Stats(); st.Misses != 1 {
		t.Fatalf("dials: got %d; want 1 (the connection was kept)", st.Misses)
	}
	deeper := strings.Repeat("*1\r\n", maxDepth+1) + ":1\r\n"
	s2 := newFakeServer(t, "$2\r\nok\r\n", send(deeper))
	p2 := New(Options{Addr: s2.addr()})
	defer p2.Close()
	if _, _, err := p2.Get("a"); !errors.Is(err, ErrProtocol) {
		t.Fatalf("GET answered %d arrays deep: got %v; want a protocol error", maxDepth+1, err)
	}
	within := strings.Repeat("*1\r\n", maxDepth) + ":1\r\n"
	s3 := newFakeServer(t, "$2\r\nok\r\n", send(within))
	p3 := New(Options{Addr: s3.addr()})
	defer p3.Close()
	if _, _, err := p3.Get("a"); !isServerError(err) {
		t.Fatalf("GET answered %d arrays deep: got %v; want an unexpected-reply error", maxDepth, err)
	}
}

func TestDeclaredButUnsentBulkAllocatesWhatArrives(t *testing.T) {
	// 500 MiB declared, 100 KiB sent, then the server hangs up: the reader
	// holds about what arrived, never the declared size.
	sent := strings.Repeat("x", 100<<10)
	for _, tc := range []struct {
		name string
		mget bool
		head string
	}{
		{"GET", false, "$524288000\r\n"},
		{"MGET", true, "*2\r\n$3\r\nabc\r\n$524288000\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newFakeServer(t, "$2\r\nok\r\n", sendThenHangUp(tc.head+sent))
			p := New(Options{Addr: s.addr()})
			defer p.Close()
			var err error
			alloc := hostile.Allocated(func() {
				if tc.mget {
					_, err = p.MGet([]string{"a", "b"})
				} else {
					_, _, err = p.Get("a")
				}
			})
			if err == nil {
				t.Fatalf("a reply cut short: got no error")
			}
			if alloc > 4<<20 {
				t.Fatalf("a reply of 500 MiB declared and %d bytes sent allocated %d bytes; want at most 4 MiB", len(sent), alloc)
			}
			if st := p.Stats(); st.TotalConns != 0 {
				t.Fatalf("after a broken reply: %+v; want the connection closed", st)
			}
		})
	}
}

func TestLargeBulkGrowsAsItArrives(t *testing.T) {
	// A real large value still reads whole, in every size around the growth
	// steps.
	for _, n := range []int{bulkPrealloc - 1, bulkPrealloc, bulkPrealloc + 1, 3*bulkPrealloc + 17} {
		v := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
		s := newFakeServer(t, "", send("$"+strconv.Itoa(n)+"\r\n"+string(v)+"\r\n"), send("*2\r\n$-1\r\n$"+strconv.Itoa(n)+"\r\n"+string(v)+"\r\n"))
		p := New(Options{Addr: s.addr()})
		got, ok, err := p.Get("a")
		if err != nil || !ok || !bytes.Equal(got, v) {
			t.Fatalf("Get of %d bytes: got %d bytes, %v, %v", n, len(got), ok, err)
		}
		p.Close()
		p = New(Options{Addr: s.addr()})
		vals, err := p.MGet([]string{"x", "a"})
		if err != nil || vals[0] != nil || !bytes.Equal(vals[1], v) {
			t.Fatalf("MGet of %d bytes: err %v", n, err)
		}
		p.Close()
	}
}

func TestRepliesNoCommandAskedForCloseTheConnection(t *testing.T) {
	// A GET answered twice in one write: the second reply would be taken for
	// the next call's. The reader, finding bytes after the last reply with no
	// call waiting, kills the connection; the next call dials a new one and
	// gets its own reply.
	s := newFakeServer(t, "$4\r\nnext\r\n", send("$3\r\none\r\n$5\r\nextra\r\n"))
	p := New(Options{Addr: s.addr()})
	defer p.Close()
	if v, ok, err := p.Get("a"); err != nil || !ok || string(v) != "one" {
		t.Fatalf("first Get: got %q, %v, %v; want \"one\"", v, ok, err)
	}
	if v, ok, err := p.Get("b"); err != nil || !ok || string(v) != "next" {
		t.Fatalf("Get after an unasked-for reply: got %q, %v, %v; want \"next\" on a new connection", v, ok, err)
	}
	if st := p.Stats(); st.Misses != 2 {
		t.Fatalf("dials: got %d; want 2 (the connection with the extra reply was closed)", st.Misses)
	}
}
