package wire

import (
	"net"
	"testing"
)

// killIdle makes the server close every connection of p (CLIENT KILL from
// another connection) and marks p's idle ones as just returned, so the next
// call takes one without the liveness check that an older one gets.
func killIdle(t *testing.T, s *server, p *Pool) {
	t.Helper()
	if n := s.cmdline(t, "CLIENT", "KILL", "TYPE", "normal"); n < 1 {
		t.Fatalf("CLIENT KILL TYPE normal: got %d connections killed; want at least 1", n)
	}
	for i := range p.slots {
		if m := p.slots[i].m.Load(); m != nil {
			m.mu.Lock()
			m.last = monotonic()
			m.mu.Unlock()
		}
	}
}

func TestResendOnAReusedConnectionTheServerClosed(t *testing.T) {
	s := startServer(t)
	for _, tc := range []struct {
		name   string
		call   func(p *Pool) error
		resent bool
	}{
		{"GET", func(p *Pool) error { _, _, err := p.Get("k"); return err }, true},
		{"GET+PTTL", func(p *Pool) error { _, _, _, err := p.GetTTL("k"); return err }, true},
		{"SET", func(p *Pool) error { _, err := p.Set("k", []byte("v"), 60_000, false); return err }, true},
		{"DEL", func(p *Pool) error { _, err := p.Del("gone"); return err }, true},
		{"EXISTS", func(p *Pool) error { _, err := p.Exists("k"); return err }, true},
		{"MGET", func(p *Pool) error { _, err := p.MGet([]string{"k", "x"}); return err }, true},
		{"MGET each", func(p *Pool) error { return p.MGetEach([]string{"k"}, func(int, []byte) {}) }, true},
		{"MSET", func(p *Pool) error { return p.SetMany([]string{"a"}, [][]byte{[]byte("1")}, 0) }, true},
		{"SET PX pipeline", func(p *Pool) error { return p.SetMany([]string{"a"}, [][]byte{[]byte("1")}, 60_000) }, true},
		{"multi-key DEL", func(p *Pool) error { _, err := p.DelMany([]string{"a", "b"}); return err }, true},
		{"SET NX", func(p *Pool) error { _, err := p.Set("nx", []byte("v"), 0, true); return err }, false},
		{"EVALSHA", func(p *Pool) error { _, _, err := p.EvalInt(NewScript("return 1"), "k", 1); return err }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(Options{Addr: s.addr})
			defer p.Close()
			if _, err := p.Set("k", []byte("v"), 0, false); err != nil {
				t.Fatal(err)
			}
			killIdle(t, s, p)
			err := tc.call(p)
			st := p.Stats()
			if tc.resent {
				if err != nil || st.Misses != 2 || st.StaleConns != 1 {
					t.Fatalf("got err %v, %d dials, %d stale; want success after one resend on a second connection",
						err, st.Misses, st.StaleConns)
				}
				return
			}
			if err == nil || !broken(err) || st.Misses != 1 || st.StaleConns != 0 {
				t.Fatalf("got err %v, %d dials, %d stale; want the broken connection's error and no resend",
					err, st.Misses, st.StaleConns)
			}
		})
	}
}

func TestNoResendOnANewConnection(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() { // accepts and hangs up at once: a broken peer
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	p := New(Options{Addr: l.Addr().String()})
	defer p.Close()
	_, _, err = p.Get("k")
	if st := p.Stats(); !broken(err) || st.Misses != 1 {
		t.Fatalf("Get on a connection closed at once: got %v after %d dials; want its error after 1", err, st.Misses)
	}
}

func TestNoResendAfterAReplyByte(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() { // answers the first GET in full, then half a reply and hangs up
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		if _, err := c.Read(buf); err != nil {
			return
		}
		_, _ = c.Write([]byte("$1\r\nv\r\n"))
		if _, err := c.Read(buf); err != nil {
			return
		}
		_, _ = c.Write([]byte("$5\r\nva"))
	}()
	p := New(Options{Addr: l.Addr().String()})
	defer p.Close()
	if _, _, err := p.Get("k"); err != nil {
		t.Fatal(err)
	}
	_, _, err = p.Get("k")
	if st := p.Stats(); !broken(err) || st.Misses != 1 {
		t.Fatalf("Get cut in the middle of its reply: got %v after %d dials; want its error after 1", err, st.Misses)
	}
}
