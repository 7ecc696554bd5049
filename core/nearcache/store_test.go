package nearcache

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

// testSources holds each test store's one tracked server (see src).
var testSources sync.Map // *store -> *source

// src returns the server of a store made by testStore.
func src(s *store) *source {
	v, _ := testSources.Load(s)
	return v.(*source)
}

// testStore returns a store with one server whose tracking is confirmed,
// and a manual clock.
func testStore(o Options) (*store, *time.Duration) {
	s := newStore(o.withDefaults())
	var now time.Duration
	s.clock = func() time.Duration { return now }
	one := &source{}
	testSources.Store(s, one)
	s.setUp(one)
	return s, &now
}

func put(s *store, key, val string, ttl time.Duration) bool {
	return s.fill(s.begin(src(s), key), key, []byte(val), ttl)
}

func TestFillAndGet(t *testing.T) {
	cases := []struct {
		name     string
		opts     Options
		redisTTL time.Duration
		advance  time.Duration
		wantHit  bool
	}{
		{"fresh", Options{TTL: time.Minute}, -1, 0, true},
		{"local TTL passed", Options{TTL: time.Second}, -1, time.Second, false},
		{"expired in redis", Options{TTL: time.Minute}, 0, 0, false},
		{"just before local TTL", Options{TTL: time.Second}, -1, time.Second - 1, true},
		{"redis TTL shorter than local", Options{TTL: time.Minute}, 100 * time.Millisecond, 99 * time.Millisecond, false},
		{"redis TTL, 1ms margin", Options{TTL: time.Minute}, 100 * time.Millisecond, 99*time.Millisecond - 1, true},
		{"redis TTL of 1ms is not kept", Options{TTL: time.Minute}, time.Millisecond, 0, false},
		{"redis TTL longer than local", Options{TTL: time.Second}, time.Hour, time.Second, false},
		{"no redis expiry", Options{TTL: time.Minute}, -1, 59 * time.Second, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, now := testStore(c.opts)
			if stored := put(s, "k", "v", c.redisTTL); !stored && c.wantHit {
				t.Fatalf("fill refused")
			}
			*now += c.advance
			v, ok := s.get("k")
			if ok != c.wantHit {
				t.Fatalf("hit = %v; want %v", ok, c.wantHit)
			}
			if ok && string(v) != "v" {
				t.Fatalf("got %q; want %q", v, "v")
			}
		})
	}
}

func TestFillRefused(t *testing.T) {
	cases := []struct {
		name    string
		between func(s *store)
		prefix  string
		key     string
	}{
		{"key invalidated while in flight", func(s *store) { s.invalidate([]string{"k"}) }, "", "k"},
		{"flushed while in flight", func(s *store) { s.flush() }, "", "k"},
		{"tracking dropped while in flight", func(s *store) { s.setDown(src(s)) }, "", "k"},
		{"tracking dropped and back while in flight", func(s *store) { s.setDown(src(s)); s.setUp(src(s)) }, "", "k"},
		{"key outside the prefix", func(s *store) {}, "app:", "other:k"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, _ := testStore(Options{Prefix: c.prefix})
			tk := s.begin(src(s), c.key)
			c.between(s)
			if s.fill(tk, c.key, []byte("stale"), -1) {
				t.Fatalf("fill stored; want it refused")
			}
			if v, ok := s.get(c.key); ok {
				t.Fatalf("got %q; want a miss", v)
			}
		})
	}
}

func TestNotServedWhileTrackingDown(t *testing.T) {
	s, _ := testStore(Options{})
	put(s, "k", "v", -1)
	s.setDown(src(s))
	if _, ok := s.get("k"); ok {
		t.Fatalf("hit after tracking dropped; want a miss")
	}
	if tk := s.begin(src(s), "k"); tk.OK() {
		t.Fatalf("ticket OK while tracking is down")
	}
}

func TestOtherKeyInvalidatedKeepsFill(t *testing.T) {
	s, _ := testStore(Options{})
	tk := s.begin(src(s), "a")
	// "b" may share a's bucket only by a 1/4096 chance; find one that does not.
	other := "b"
	for i := 0; s.bucket(other) == s.bucket("a"); i++ {
		other = "b" + strconv.Itoa(i)
	}
	s.invalidate([]string{other})
	if !s.fill(tk, "a", []byte("v"), -1) {
		t.Fatalf("fill refused after another key's invalidation")
	}
}

func TestBounds(t *testing.T) {
	cases := []struct {
		name        string
		opts        Options
		n, valLen   int
		wantEntries int64
	}{
		{"entries bound", Options{MaxEntries: 10}, 100, 10, 10},
		{"bytes bound", Options{MaxBytes: 10 * (EntryOverhead + 3 + 100)}, 100, 100, 10},
		{"value bigger than the bound", Options{MaxBytes: 1000}, 5, 2000, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, _ := testStore(c.opts)
			val := string(make([]byte, c.valLen))
			for i := 0; i < c.n; i++ {
				put(s, fmt.Sprintf("k%d", i%100), val, -1)
				if st := s.stats(); st.Bytes > s.maxBytes || int(st.Entries) > s.maxEntries {
					t.Fatalf("after %d fills: %d entries, %d bytes; bounds %d, %d", i+1, st.Entries, st.Bytes, s.maxEntries, s.maxBytes)
				}
			}
			st := s.stats()
			if st.Entries != c.wantEntries {
				t.Fatalf("entries = %d; want %d", st.Entries, c.wantEntries)
			}
			var sum int64
			for e := s.head; e != nil; e = e.next {
				sum += e.size()
			}
			if sum != st.Bytes {
				t.Fatalf("bytes = %d; want the sum of entry sizes %d", st.Bytes, sum)
			}
		})
	}
}

func TestLRUEvictsLeastRecentlyUsed(t *testing.T) {
	s, _ := testStore(Options{MaxEntries: 3})
	for _, k := range []string{"a", "b", "c"} {
		put(s, k, k, -1)
	}
	s.get("a") // a is now the most recent; b the least
	put(s, "d", "d", -1)
	for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if _, ok := s.get(k); ok != want {
			t.Errorf("%s cached = %v; want %v", k, ok, want)
		}
	}
	if ev := s.stats().Evictions; ev != 1 {
		t.Errorf("evictions = %d; want 1", ev)
	}
}

func TestReplaceKeepsAccounting(t *testing.T) {
	s, _ := testStore(Options{})
	put(s, "k", "short", -1)
	put(s, "k", "a much longer value", -1)
	st := s.stats()
	if want := int64(len("k")+len("a much longer value")) + EntryOverhead; st.Bytes != want || st.Entries != 1 {
		t.Fatalf("bytes, entries = %d, %d; want %d, 1", st.Bytes, st.Entries, want)
	}
}

func TestStoredValueIsACopy(t *testing.T) {
	s, _ := testStore(Options{})
	buf := []byte("value")
	s.fill(s.begin(src(s), "k"), "k", buf, -1)
	buf[0] = 'X'
	if v, _ := s.get("k"); string(v) != "value" {
		t.Fatalf("got %q; want %q (the caller's buffer was kept)", v, "value")
	}
}

func TestConcurrentUse(t *testing.T) {
	s, _ := testStore(Options{MaxEntries: 50, MaxBytes: 20000})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				k := strconv.Itoa((g*7 + i) % 100)
				switch i % 5 {
				case 0:
					s.invalidate([]string{k})
				case 1:
					put(s, k, "value-"+k, -1)
				default:
					if v, ok := s.get(k); ok && string(v) != "value-"+k {
						t.Errorf("got %q for %s", v, k)
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	st := s.stats()
	if st.Entries > 50 || st.Bytes > 20000 {
		t.Fatalf("bounds broken: %+v", st)
	}
}

func BenchmarkGetHit(b *testing.B) {
	s, _ := testStore(Options{})
	put(s, "prefix:1:hot", string(make([]byte, 100)), -1)
	b.ReportAllocs()
	for b.Loop() {
		s.get("prefix:1:hot")
	}
}

func BenchmarkGetHitParallel(b *testing.B) {
	s, _ := testStore(Options{})
	put(s, "prefix:1:hot", string(make([]byte, 100)), -1)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.get("prefix:1:hot")
		}
	})
}

func BenchmarkGetMiss(b *testing.B) {
	s, _ := testStore(Options{})
	for b.Loop() {
		s.get("prefix:1:cold")
	}
}

func BenchmarkBeginFill(b *testing.B) {
	s, _ := testStore(Options{MaxEntries: 1000})
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = "prefix:1:k" + strconv.Itoa(i)
	}
	val := make([]byte, 100)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := keys[i%len(keys)]
		s.fill(s.begin(src(s), k), k, val, -1)
		i++
	}
}

func BenchmarkInvalidate(b *testing.B) {
	s, _ := testStore(Options{})
	keys := []string{"prefix:1:a"}
	for b.Loop() {
		s.invalidate(keys)
	}
}
