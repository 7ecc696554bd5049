package main

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/redis-cache-go/redis-cache-go/core/cache"
)

// Workload 4: reads of one hot key served from process memory.
const (
	nearPrefix  = "nc:"
	oursHotKey  = "nc:hot:ours"
	rueHotKey   = "nc:hot:rueidis"
	rueCacheTTL = time.Minute // DoCache's client-side TTL (the key has none)
)

// near holds the clients of workload 4: our core/cache opened with
// LOCAL_CACHE (the near-cache: CLIENT TRACKING BCAST PREFIX nc:, RESP3, on
// a connection of its own), and the shared rueidis client (DoCache: OPTIN
// tracking on its pipelined connections).
type near struct {
	ours      *cache.Cache
	rue       rueidis.Client
	plain     getter // core/wire, for a plain GET per call
	rueMisses atomic.Int64
}

// openNear opens our cache as the C library's rcg_open does, from the
// configuration document (cache.Parse, then cache.Open), and waits until
// the near-cache holds the hot key.
func openNear(addr string, rue rueidis.Client, plain getter) (*near, error) {
	doc := fmt.Sprintf(`{"addr": %q, "local_cache": {"prefix": %q}}`, addr, nearPrefix)
	cfg, err := cache.Parse([]byte(doc))
	if err != nil {
		return nil, err
	}
	c, err := cache.Open(cfg)
	if err != nil {
		return nil, err
	}
	n := &near{ours: c, rue: rue, plain: plain}
	var b cache.Buffer
	deadline := time.Now().Add(30 * time.Second)
	for { // nothing is kept before Redis confirmed tracking; a fill can be dropped: read until a hit
		st, _ := c.NearStats()
		before := st.Hits
		if _, err := c.Get(bg, oursHotKey, &b); err != nil {
			return nil, err
		}
		st, _ = c.NearStats()
		if st.Tracking && st.Hits > before {
			break
		}
		if time.Now().After(deadline) {
			c.Close()
			return nil, fmt.Errorf("the near-cache never served %s (tracking %v)", oursHotKey, st.Tracking)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for { // rueidis: the first DoCache fetches (CLIENT CACHING YES, MULTI, PTTL, GET, EXEC), later ones hit
		r := rue.DoCache(bg, rue.B().Get().Key(rueHotKey).Cache(), rueCacheTTL)
		if err := r.Error(); err != nil {
			c.Close()
			return nil, fmt.Errorf("rueidis DoCache: %w", err)
		}
		if r.IsCacheHit() {
			break
		}
		if time.Now().After(deadline) {
			c.Close()
			return nil, fmt.Errorf("rueidis DoCache never hit %s", rueHotKey)
		}
	}
	return n, nil
}

func (n *near) close() { _ = n.ours.Close() }

// ours: a Get through core/cache's near-cache into a Buffer of the
// goroutine's own (the value copied out, as for the C caller).
func (n *near) oursCall() func() error {
	var b cache.Buffer
	return func() error {
		ok, err := n.ours.Get(bg, oursHotKey, &b)
		if err == nil && (!ok || len(b.B) != valueSize) {
			err = fmt.Errorf("near-cache Get: found %v, %d bytes", ok, len(b.B))
		}
		return err
	}
}

// rueidis: DoCache of GET; the value as a string (no copy), misses counted.
func (n *near) rueCall() func() error {
	return func() error {
		r := n.rue.DoCache(bg, n.rue.B().Get().Key(rueHotKey).Cache(), rueCacheTTL)
		v, err := r.ToString()
		if err == nil && len(v) != valueSize {
			err = fmt.Errorf("DoCache: %d bytes", len(v))
		}
		if !r.IsCacheHit() {
			n.rueMisses.Add(1)
		}
		return err
	}
}

// plainCall: a GET to the server of a distinct key each time (core/wire).
func (n *near) plainCall() func() error {
	return func() error { return check(n.plain.get(next())) }
}

// nearRows are the rows of workload 4, in report order; the first is the
// base of the ratios.
var nearRows = []string{"core/cache LOCAL_CACHE hit", "rueidis DoCache hit", "core/wire plain GET"}

func (n *near) call(row string) func() func() error {
	switch row {
	case nearRows[0]:
		return n.oursCall
	case nearRows[1]:
		return n.rueCall
	default:
		return n.plainCall
	}
}

// hits checks that what was measured as a hit was one: the near-cache's
// hit counter moved by at least calls, rueidis reported no miss.
func (n *near) measure(row string, goroutines int, d time.Duration) (float64, error) {
	st, _ := n.ours.NearStats()
	before := st.Hits
	n.rueMisses.Store(0)
	ns, calls, err := hitLoop(goroutines, d, n.call(row))
	if err != nil {
		return 0, err
	}
	switch row {
	case nearRows[0]:
		st, _ = n.ours.NearStats()
		if got := st.Hits - before; got < calls {
			return 0, fmt.Errorf("%s: %d near-cache hits for %d calls", row, got, calls)
		}
	case nearRows[1]:
		if m := n.rueMisses.Load(); m > 0 {
			return 0, fmt.Errorf("%s: %d of %d calls were not cache hits", row, m, calls)
		}
	}
	return ns, nil
}
