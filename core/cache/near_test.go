package cache

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/redis-cache-go/redis-cache-go/core/herd"
	"github.com/redis-cache-go/redis-cache-go/internal/redistest"
)

// openNear opens a cache with a near-cache over "app:" keys and waits until
// Redis confirmed tracking (before that nothing is kept).
func openNear(t testing.TB, srv *redistest.Server, cfg Config) *Cache {
	t.Helper()
	cfg.LocalCache = &LocalCache{Prefix: "app:"}
	c := open(t, srv, cfg)
	waitFor(t, "tracking is confirmed", func() bool {
		get(t, c, "app:warm-up")
		st, _ := c.NearStats()
		return st.Tracking
	})
	return c
}

func hits(c *Cache) int64 {
	st, _ := c.NearStats()
	return st.Hits
}

// cached reads key until the near-cache holds it (a fill is dropped when
// the push of an earlier write arrives while it is in flight).
func cached(t testing.TB, c *Cache, key string) {
	t.Helper()
	waitFor(t, key+" is cached", func() bool {
		before := hits(c)
		get(t, c, key)
		return hits(c) > before
	})
}

func TestNearCacheReadThroughAndInvalidation(t *testing.T) {
	srv := redistest.Start(t)
	big := strings.Repeat("near ", 300)
	c := openNear(t, srv, Config{Codec: &Codec{Compressor: "zlib"}})
	tests := []struct {
		name      string
		write     func()
		wantValue string
		wantFound bool
		waitPush  bool // the change is another client's: seen once Redis pushes it
	}{
		{name: "own set", write: func() { set(t, c, "app:k", big) }, wantValue: big, wantFound: true},
		{name: "another client's set", write: func() { srv.Do(t, "SET", "app:k", "other") }, wantValue: "other", wantFound: true, waitPush: true},
		{name: "own add", write: func() { c.Set(ctx, "app:n", []byte("added"), 0, true) }, wantValue: "other", wantFound: true},
		{name: "own incr", write: func() { srv.Do(t, "SET", "app:k", "1"); c.Incr(ctx, "app:k", 1) }, wantValue: "2", wantFound: true},
		{name: "own expire", write: func() { c.Expire(ctx, "app:k", -1) }, wantFound: false},
		{name: "own set many", write: func() { c.SetMany(ctx, []string{"app:k"}, [][]byte{[]byte("many")}, 0) }, wantValue: "many", wantFound: true},
		{name: "own raw command", write: func() { c.Do(ctx, "app:k", "SET", "app:k", "raw") }, wantValue: "raw", wantFound: true},
		{name: "own rename onto it", write: func() { set(t, c, "app:src", "moved"); c.Rename(ctx, "app:src", "app:k") }, wantValue: "moved", wantFound: true},
		{name: "own delete", write: func() { c.Delete(ctx, "app:k") }, wantFound: false},
		{name: "own set again", write: func() { set(t, c, "app:k", "back") }, wantValue: "back", wantFound: true},
		{name: "own clear", write: func() { c.Clear(ctx, "app:*") }, wantFound: false},
		{name: "another client's delete", write: func() { set(t, c, "app:k", "x"); cached(t, c, "app:k"); srv.Do(t, "DEL", "app:k") }, wantFound: false, waitPush: true},
	}
	for _, tt := range tests {
		if _, ok := get(t, c, "app:k"); ok {
			cached(t, c, "app:k") // the old value is in the near-cache when the write comes
		}
		tt.write()
		check := func() bool {
			got, ok := get(t, c, "app:k")
			return ok == tt.wantFound && got == tt.wantValue
		}
		if tt.waitPush {
			waitFor(t, tt.name+" is seen", check)
		} else if got, ok := get(t, c, "app:k"); ok != tt.wantFound || got != tt.wantValue {
			t.Errorf("%s: got %d bytes (found %v) at once; want %d bytes (found %v)", tt.name, len(got), ok, len(tt.wantValue), tt.wantFound)
		}
	}
	st, _ := c.NearStats()
	if st.Hits == 0 || st.Fills == 0 || st.Invalidations == 0 {
		t.Errorf("got %+v; want hits, fills and invalidations (the near-cache was not exercised)", st)
	}
}

func TestNearCacheGetMany(t *testing.T) {
	srv := redistest.Start(t)
	c := openNear(t, srv, Config{})
	set(t, c, "app:a", "A")
	set(t, c, "app:b", "B")
	set(t, c, "other:c", "C") // outside the tracked prefix: never kept
	keys := []string{"app:a", "app:missing", "app:b", "other:c"}
	want := map[int]string{0: "A", 2: "B", 3: "C"}
	readAll := func() {
		got := map[int]string{}
		if err := c.GetMany(ctx, keys, func(i int, v []byte) { got[i] = string(v) }); err != nil {
			t.Fatalf("GetMany: got error %v; want nil", err)
		}
		if len(got) != len(want) || got[0] != "A" || got[2] != "B" || got[3] != "C" {
			t.Fatalf("GetMany: got %v; want %v", got, want)
		}
	}
	readAll()
	waitFor(t, "both app: keys are served from memory", func() bool {
		before := hits(c)
		readAll()
		return hits(c)-before == 2
	})
}

func TestNearCacheReadsFromMemory(t *testing.T) {
	srv := redistest.Start(t)
	c := openNear(t, srv, Config{})
	set(t, c, "app:k", "v")
	cached(t, c, "app:k")
	srv.Do(t, "CLIENT", "PAUSE", "300", "ALL") // the server answers nothing for a while
	before := hits(c)
	if got, ok := get(t, c, "app:k"); !ok || got != "v" || hits(c) != before+1 {
		t.Errorf("got %q (found %v), hits +%d while the server is paused; want v from memory", got, ok, hits(c)-before)
	}
}

func TestNoNearCacheWithoutLocalCache(t *testing.T) {
	srv := redistest.Start(t)
	if _, ok := open(t, srv, Config{}).NearStats(); ok {
		t.Errorf("NearStats without local_cache: got ok; want false")
	}
}

// ask runs Ask and returns its value, ticket and error.
func ask(c *Cache, key string) (string, *Ticket, error) {
	var b Buffer
	tk, err := c.Ask(ctx, key, 10000, &b)
	return string(b.B), tk, err
}

func TestHerdSharedByConfig(t *testing.T) {
	srv := redistest.Start(t)
	cfg := Config{Codec: &Codec{Compressor: "zstd"}}
	c1, c2 := open(t, srv, cfg), open(t, srv, cfg)
	big := strings.Repeat("computed ", 300)
	tests := []struct {
		name        string
		spend       func(*Ticket) (int, error)
		wantWaiting int
		wantValue   string
		wantFailed  bool
	}{
		{name: "published", spend: func(tk *Ticket) (int, error) { return 0, tk.Publish(ctx, []byte(big), 0, 0) }, wantValue: big},
		{name: "abandoned", spend: func(tk *Ticket) (int, error) { return tk.Abandon(ctx, errors.New("boom")) }, wantWaiting: 1, wantFailed: true},
	}
	for i, tt := range tests {
		key := "h:" + string(rune('a'+i))
		_, tk, err := ask(c1, key)
		if tk == nil || err != nil || !tk.Locked() || tk.Key() != key {
			t.Fatalf("%s: first Ask: got ticket %v, %v; want a locked ticket for %s", tt.name, tk, err, key)
		}
		var wg sync.WaitGroup
		var got string
		var gotTicket *Ticket
		var gotErr error
		wg.Add(1)
		go func() { // another thread's cache of the same configuration
			defer wg.Done()
			got, gotTicket, gotErr = ask(c2, key)
		}()
		waitFor(t, "the second ask waits", func() bool { return c1.Waiting() == 1 })
		waiting, err := tt.spend(tk)
		if err != nil || waiting != tt.wantWaiting {
			t.Errorf("%s: spending the ticket: got %d waiting, %v; want %d, nil", tt.name, waiting, err, tt.wantWaiting)
		}
		wg.Wait()
		var failed *herd.FailedError
		if gotTicket != nil || errors.As(gotErr, &failed) != tt.wantFailed || got != tt.wantValue {
			t.Errorf("%s: waiting Ask: got %d bytes, ticket %v, %v; want %d bytes, failed %v", tt.name, len(got), gotTicket, gotErr, len(tt.wantValue), tt.wantFailed)
		}
	}
	if got, tk, err := ask(c2, "h:a"); tk != nil || err != nil || got != big {
		t.Errorf("Ask of a fresh value: got %d bytes, ticket %v, %v; want the value", len(got), tk, err)
	}
	if stored := srv.Do(t, "GET", "h:a"); !strings.HasPrefix(stored, "\x28\xb5\x2f\xfd") {
		t.Errorf("published value: got stored bytes %q…; want zstd", stored[:4])
	}
	st := c1.Stats()[0]
	if st.Hits != 2 || st.Misses != 2 { // an Ask counts once: 2 tickets, 2 values served, 1 failure (not counted)
		t.Errorf("got %d hits, %d misses; want 2 and 2", st.Hits, st.Misses)
	}
}
