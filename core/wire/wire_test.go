package wire

import (
	"bytes"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/expiry"
)

func TestOperations(t *testing.T) {
	s := startServer(t)
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			addr := s.addr
			if network == "unix" {
				addr = s.socket()
			}
			p := New(Options{Network: network, Addr: addr, DB: 3})
			defer p.Close()
			key := "k:" + network
			if _, ok, err := p.Get(key); err != nil || ok {
				t.Fatalf("Get of a missing key: found %v, err %v; want a miss", ok, err)
			}
			if ok, err := p.Set(key, []byte("v1"), 0, false); !ok || err != nil {
				t.Fatalf("Set: got %v, %v; want true, nil", ok, err)
			}
			if ok, err := p.Set(key, []byte("v2"), 0, true); ok || err != nil {
				t.Fatalf("Set NX on an existing key: got %v, %v; want false, nil", ok, err)
			}
			v, ok, err := p.Get(key)
			if string(v) != "v1" || !ok || err != nil {
				t.Fatalf("Get: got %q, %v, %v; want v1", v, ok, err)
			}
			if ok, err := p.Exists(key); !ok || err != nil {
				t.Fatalf("Exists: got %v, %v; want true", ok, err)
			}
			if ok, err := p.Del(key); !ok || err != nil {
				t.Fatalf("Del: got %v, %v; want true", ok, err)
			}
			if ok, err := p.Del(key); ok || err != nil {
				t.Fatalf("second Del: got %v, %v; want false", ok, err)
			}
			if ok, err := p.Set(key, []byte{}, 0, true); !ok || err != nil {
				t.Fatalf("Set NX of an empty value: got %v, %v; want true", ok, err)
			}
			if v, ok, err := p.Get(key); v == nil || len(v) != 0 || !ok || err != nil {
				t.Fatalf("Get of an empty value: got %v, %v, %v; want a non-nil empty slice", v, ok, err)
			}
		})
	}
	// DB 3 was selected: the keys are not in db 0.
	p0 := New(Options{Addr: s.addr})
	defer p0.Close()
	p3 := New(Options{Addr: s.addr, DB: 3})
	defer p3.Close()
	if _, err := p3.Set("only3", []byte("x"), 0, false); err != nil {
		t.Fatal(err)
	}
	if ok, err := p0.Exists("only3"); ok || err != nil {
		t.Fatalf("db 0 sees a db 3 key: got %v, %v", ok, err)
	}
}

func TestTTL(t *testing.T) {
	s := startServer(t)
	p := New(Options{Addr: s.addr})
	defer p.Close()
	if _, err := p.Set("t", []byte("x"), 1500, false); err != nil {
		t.Fatal(err)
	}
	if got := s.cmdline(t, "PTTL", "t"); got <= 0 || got > 1500 {
		t.Fatalf("PTTL after Set with 1.5s: got %d; want 1..1500", got)
	}
	// past what a time.Duration holds (about 292 years): sent as it is
	const huge = 1e12 * 1000 // 10**12 seconds
	if _, err := p.Set("t", []byte("x"), huge, false); err != nil {
		t.Fatal(err)
	}
	if got := s.cmdline(t, "PTTL", "t"); got <= huge-1000 || got > huge {
		t.Fatalf("PTTL after Set with 10**12 s: got %d; want %d - 1000 .. %d", got, int64(huge), int64(huge))
	}
}

// raw sends one command on a new raw connection of its own and returns the
// connection, ready to read the reply; the caller closes it.
func (s *server) raw(t *testing.T, args ...string) *conn {
	t.Helper()
	p := New(Options{Addr: s.addr})
	defer p.Close()
	c, err := p.dial(false)
	if err != nil {
		t.Fatal(err)
	}
	c.argc(len(args))
	for _, a := range args {
		c.arg(a)
	}
	c.begin(p.o.WriteTimeout)
	if err := c.flush(); err != nil {
		c.close()
		t.Fatal(err)
	}
	c.begin(p.o.ReadTimeout)
	return c
}

// cmdline runs one command on a separate raw connection and returns its
// integer reply.
func (s *server) cmdline(t *testing.T, args ...string) int64 {
	t.Helper()
	c := s.raw(t, args...)
	defer c.close()
	kind, n, _, err := c.header()
	if err != nil {
		if kind == kindNil {
			return -2
		}
		t.Fatal(err)
	}
	return n
}

func TestLargeValues(t *testing.T) {
	s := startServer(t)
	p := New(Options{Addr: s.addr})
	defer p.Close()
	for _, size := range []int{readBufSize - 10, readBufSize, 64<<10 + 1, 3 << 20} {
		v := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
		v[size-1] = '!'
		if _, err := p.Set("big", v, 0, false); err != nil {
			t.Fatalf("Set %d bytes: %v", size, err)
		}
		got, ok, err := p.Get("big")
		if err != nil || !ok || !bytes.Equal(got, v) {
			t.Fatalf("Get %d bytes: got %d bytes, %v, %v; want the value back", size, len(got), ok, err)
		}
		vals, err := p.MGet([]string{"big", "nope", "big"})
		if err != nil || !bytes.Equal(vals[0], v) || vals[1] != nil || !bytes.Equal(vals[2], v) {
			t.Fatalf("MGet of %d bytes: err %v", size, err)
		}
	}
}

func TestBatches(t *testing.T) {
	s := startServer(t)
	p := New(Options{Addr: s.addr})
	defer p.Close()
	keys := []string{"a", "b", "c"}
	vals := [][]byte{[]byte("1"), {}, []byte(strings.Repeat("z", 9000))}
	for _, ttl := range []expiry.TTL{0, 60_000} {
		if err := p.SetMany(keys, vals, ttl); err != nil {
			t.Fatalf("SetMany ttl %v: %v", ttl, err)
		}
		got, err := p.MGet(append([]string{"missing"}, keys...))
		if err != nil {
			t.Fatal(err)
		}
		if got[0] != nil || string(got[1]) != "1" || got[2] == nil || len(got[2]) != 0 || !bytes.Equal(got[3], vals[2]) {
			t.Fatalf("MGet after SetMany ttl %v: got %q", ttl, got)
		}
		if ttl > 0 {
			if d := s.cmdline(t, "PTTL", "c"); d <= 0 {
				t.Fatalf("PTTL after SetMany with a TTL: got %d; want > 0", d)
			}
		}
	}
	n, err := p.DelMany(append(keys, "missing"))
	if n != 3 || err != nil {
		t.Fatalf("DelMany: got %d, %v; want 3", n, err)
	}
}

func TestErrorReplyKeepsConnection(t *testing.T) {
	s := startServer(t)
	p := New(Options{Addr: s.addr})
	defer p.Close()
	if _, err := p.Set("l", []byte("x"), 0, false); err != nil {
		t.Fatal(err)
	}
	_, _, err := p.EvalInt(NewScript("return redis.call('LPUSH', KEYS[1], ARGV[1])"), "l", 1)
	var se ServerError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Fatalf("LPUSH on a string: got %v; want a WRONGTYPE ServerError", err)
	}
	if v, ok, err := p.Get("l"); string(v) != "x" || !ok || err != nil {
		t.Fatalf("Get after an error reply: got %q, %v, %v", v, ok, err)
	}
	if st := p.Stats(); st.Misses != 1 || st.TotalConns != 1 {
		t.Fatalf("after an error reply and a Get: got %d dials, %d open; want the one connection kept", st.Misses, st.TotalConns)
	}
}

func TestEvalInt(t *testing.T) {
	s := startServer(t)
	p := New(Options{Addr: s.addr})
	defer p.Close()
	incr := NewScript(`if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBY', KEYS[1], ARGV[1]) end return false`)
	if _, ok, err := p.EvalInt(incr, "n", 5); ok || err != nil {
		t.Fatalf("incr of a missing key: got %v, %v; want not found", ok, err)
	}
	if _, err := p.Set("n", []byte("10"), 0, false); err != nil {
		t.Fatal(err)
	}
	// the server now knows the script (EVAL loaded it): EVALSHA answers
	if v, ok, err := p.EvalInt(incr, "n", -3); v != 7 || !ok || err != nil {
		t.Fatalf("incr by -3: got %d, %v, %v; want 7", v, ok, err)
	}
	s.cmdline(t, "SCRIPT", "FLUSH")
	if v, ok, err := p.EvalInt(incr, "n", 1); v != 8 || !ok || err != nil {
		t.Fatalf("incr after SCRIPT FLUSH: got %d, %v, %v; want 8", v, ok, err)
	}
}

func TestAuth(t *testing.T) {
	s := startServer(t, "--requirepass", "sekret", "--user", "alice", "on", ">wonder", "~*", "+@all")
	good := New(Options{Addr: s.addr, Password: "sekret", DB: 2})
	defer good.Close()
	if _, err := good.Set("a", []byte("1"), 0, false); err != nil {
		t.Fatalf("Set with the right password: %v", err)
	}
	acl := New(Options{Addr: s.addr, Username: "alice", Password: "wonder", DB: 2})
	defer acl.Close()
	if v, _, err := acl.Get("a"); string(v) != "1" || err != nil {
		t.Fatalf("Get as ACL user alice: got %q, %v", v, err)
	}
	for _, o := range []Options{{Addr: s.addr, Password: "wrong"}, {Addr: s.addr, Username: "alice", Password: "nope"}, {Addr: s.addr}} {
		p := New(o)
		_, _, err := p.Get("a")
		var se ServerError
		if !errors.As(err, &se) || !(strings.Contains(err.Error(), "WRONGPASS") || strings.Contains(err.Error(), "NOAUTH")) {
			t.Fatalf("Get with user %q password %q: got %v; want a WRONGPASS/NOAUTH reply", o.Username, o.Password, err)
		}
		if p.Stats().TotalConns != 0 && o.Password != "" {
			t.Fatalf("a connection that failed AUTH was kept")
		}
		p.Close()
	}
}

func TestTimeoutOnSilentListener(t *testing.T) {
	addr := silentServer(t)
	p := New(Options{Addr: addr, ReadTimeout: 150 * time.Millisecond})
	defer p.Close()
	start := time.Now()
	_, _, err := p.Get("k")
	took := time.Since(start)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Get from a silent server: got %v; want a timeout", err)
	}
	if !strings.Contains(err.Error(), "i/o timeout") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("timeout message %q should name the server and say i/o timeout", err)
	}
	if took < 150*time.Millisecond {
		t.Fatalf("timed out after %v; want at least the 150ms read timeout", took)
	}
	if p.Stats().TotalConns != 0 {
		t.Fatalf("a timed-out connection was kept for reuse")
	}
	// A value larger than the socket buffers, to a server that never reads: the write times out.
	pw := New(Options{Addr: addr, WriteTimeout: 200 * time.Millisecond})
	defer pw.Close()
	start = time.Now()
	if _, err := pw.Set("k", make([]byte, 64<<20), 0, false); !errors.As(err, &ne) || !ne.Timeout() || !strings.Contains(err.Error(), "write") {
		t.Fatalf("Set of 64 MiB to a server that never reads: got %v; want a write timeout", err)
	}
	if took := time.Since(start); took < 200*time.Millisecond || took > 5*time.Second {
		t.Fatalf("write timed out after %v; want about the 200ms write timeout", took)
	}
	// AUTH on connect is bounded by DialTimeout.
	pa := New(Options{Addr: addr, Password: "x", DialTimeout: 100 * time.Millisecond})
	defer pa.Close()
	if _, _, err := pa.Get("k"); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("AUTH against a silent server: got %v; want a timeout", err)
	}
}

func TestReconnectAfterRestart(t *testing.T) {
	s := startServer(t)
	p := New(Options{Addr: s.addr, DialTimeout: time.Second})
	defer p.Close()
	if _, err := p.Set("r", []byte("1"), 0, false); err != nil {
		t.Fatal(err)
	}
	s.stop()
	if _, _, err := p.Get("r"); err == nil {
		t.Fatalf("Get while the server is down: got no error")
	}
	s.start(t)
	// the pooled connection died with the old server; a fresh one is dialled
	if _, ok, err := p.Get("r"); ok || err != nil {
		t.Fatalf("Get after the restart: got found %v, %v; want a miss (the server is empty)", ok, err)
	}
	// a connection the server closed while idle is noticed before reuse
	if _, err := p.Set("r", []byte("2"), 0, false); err != nil {
		t.Fatal(err)
	}
	s.stop()
	s.start(t)
	for m := p.slots[1].m.Load(); m != nil && monotonic()-m.idleSince() < staleAfter; {
		time.Sleep(time.Millisecond) // polled: wait out the idle threshold
	}
	if _, _, err := p.Get("r"); err != nil {
		t.Fatalf("Get on a connection closed by a restart while idle: %v; want a transparent redial", err)
	}
}

func TestConcurrentCalls(t *testing.T) {
	s := startServer(t)
	p := New(Options{Addr: s.addr, Conns: 2})
	defer p.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			key := string(rune('a' + g))
			for i := 0; i < 200; i++ {
				want := []byte{byte(g), byte(i)}
				if _, err := p.Set(key, want, 0, false); err != nil {
					errs <- err
					return
				}
				got, _, err := p.Get(key)
				if err != nil || !bytes.Equal(got, want) {
					errs <- errors.New("wrong value read back under concurrency")
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Misses > 2 || st.TotalConns > 2 {
		t.Fatalf("16 goroutines on Conns 2: got %d dials, %d open; want at most 2 (calls share connections)", st.Misses, st.TotalConns)
	}
}

func TestStats(t *testing.T) {
	s := startServer(t)
	p := New(Options{Addr: s.addr})
	defer p.Close()
	for i := 0; i < 3; i++ {
		if _, _, err := p.Get("x"); err != nil {
			t.Fatal(err)
		}
	}
	got := p.Stats()
	if got != (Stats{Hits: 2, Misses: 1, TotalConns: 1, IdleConns: 1}) {
		t.Fatalf("Stats after 3 calls: got %+v; want 1 dial, 2 reuses, 1 open and idle", got)
	}
	p.Close()
	if got := p.Stats(); got.TotalConns != 0 || got.IdleConns != 0 {
		t.Fatalf("Stats after Close: got %+v; want no connection open", got)
	}
}

func TestClosed(t *testing.T) {
	s := startServer(t)
	p := New(Options{Addr: s.addr})
	if _, _, err := p.Get("x"); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, _, err := p.Get("x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close: got %v; want ErrClosed", err)
	}
}

func TestParseInt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{{"0", 0, true}, {"-1", -1, true}, {"9223372036854775807", 1<<63 - 1, true}, {"", 0, false}, {"-", 0, false}, {"1x", 0, false}} {
		got, ok := parseInt([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseInt(%q): got %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
