package wire

import (
	"bytes"
	"testing"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/expiry"
)

func TestGetTTL(t *testing.T) {
	s := startServer(t)
	p := New(Options{Addr: s.addr})
	defer p.Close()
	big := bytes.Repeat([]byte("b"), 3*readBufSize) // read past the connection's buffer
	if _, err := p.Set("ttl:none", []byte("v"), 0, false); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Set("ttl:px", big, 10_000, false); err != nil {
		t.Fatal(err)
	}
	push := NewScript("redis.call('RPUSH', KEYS[1], ARGV[1]) return 1")
	if _, _, err := p.EvalInt(push, "ttl:list", 1); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		key          string
		want         []byte
		found        bool
		minTTL, maxT int64
		serverErr    bool
	}{
		{key: "ttl:missing"},
		{key: "ttl:none", want: []byte("v"), found: true, minTTL: -1, maxT: -1},
		{key: "ttl:px", want: big, found: true, minTTL: 1, maxT: 10000},
		{key: "ttl:list", serverErr: true}, // WRONGTYPE on GET; PTTL still read
	}
	for _, tc := range cases {
		v, ttl, found, err := p.GetTTL(tc.key)
		if tc.serverErr {
			if !isServerError(err) || !bytes.Contains([]byte(err.Error()), []byte("WRONGTYPE")) {
				t.Fatalf("GetTTL(%s): got err %v; want the WRONGTYPE error reply", tc.key, err)
			}
			continue
		}
		if err != nil || found != tc.found || !bytes.Equal(v, tc.want) {
			t.Fatalf("GetTTL(%s): got %d bytes, found %v, err %v; want %d bytes, found %v", tc.key, len(v), found, err,
				len(tc.want), tc.found)
		}
		if found && (ttl < tc.minTTL || ttl > tc.maxT) {
			t.Fatalf("GetTTL(%s): got ttl %d; want %d..%d", tc.key, ttl, tc.minTTL, tc.maxT)
		}
	}
	// Every reply was read to its end: the one connection is still in step.
	if st := p.Stats(); st.Misses != 1 {
		t.Fatalf("connections dialled: got %d; want 1 (kept after the error reply)", st.Misses)
	}
	if v, _, _, err := p.GetTTL("ttl:none"); err != nil || string(v) != "v" {
		t.Fatalf("GetTTL after an error reply: got %q, %v; want v", v, err)
	}
}

func BenchmarkGetTTL(b *testing.B) {
	s := startServer(b)
	p := New(Options{Addr: s.addr})
	defer p.Close()
	if _, err := p.Set("bench", bytes.Repeat([]byte("x"), 100), expiry.Of(time.Hour), false); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, _, err := p.GetTTL("bench"); err != nil {
			b.Fatal(err)
		}
	}
}
