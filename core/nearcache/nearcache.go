// Package nearcache is an in-process cache of Redis values kept correct by
// Redis' server-assisted client-side caching.
//
// A Cache holds up to Options.MaxEntries values and Options.MaxBytes bytes
// (key + value + EntryOverhead per entry), evicting the least recently used.
// Each entry lives at most Options.TTL and never past the key's own Redis
// expiry as the caller reported it at fill time.
//
// Correctness comes from one dedicated connection per Cache that speaks
// RESP3 and runs CLIENT TRACKING ON BCAST PREFIX Options.Prefix: Redis pushes
// the name of every key under the prefix that any client modifies, expires
// or evicts, and a null for FLUSHDB/FLUSHALL. BCAST mode was chosen over
// default tracking because it needs no per-connection state: default
// tracking must run CLIENT TRACKING ON REDIRECT <id> on every data
// connection that reads (go-redis' pool and any raw fast-path connection),
// again after every reconnect of either side, and a read on a connection
// whose redirect is not yet set up would silently go untracked. BCAST costs
// one push per write under the prefix, which a cache's write rate affords,
// and no tracking table on the server.
//
// Rules the Cache enforces:
//   - Nothing is served or stored until the tracking connection confirmed
//     CLIENT TRACKING; when it drops (or misses its health check), the cache
//     is flushed and stays empty until tracking is confirmed again.
//   - A fill is dropped when an invalidation of its key (or a flush, or a
//     tracking change) happened after its Ticket was taken, so a value read
//     while a write raced it is never kept.
//   - Keys outside Options.Prefix are never stored (Redis would not tell us
//     about their changes).
//
// The caller invalidates its own writes at once (Invalidate, Flush) for
// read-your-writes; the push for them arrives a moment later anyway.
package nearcache

import (
	"crypto/tls"
	"fmt"
	"sync"
	"time"
)

// Options configures a Cache. Zero values mean the defaults named on each
// field; they are applied in one place, by withDefaults.
type Options struct {
	// MaxEntries bounds the number of entries. Default: 10,000.
	MaxEntries int
	// MaxBytes bounds the sum of len(key)+len(value)+EntryOverhead over
	// the entries. Default: 64 MiB.
	MaxBytes int64
	// TTL is the longest an entry is served. Default: 60s.
	TTL time.Duration
	// Prefix is the key space tracked (BCAST PREFIX) and cached. Default:
	// "" (every key).
	Prefix string

	// Network ("tcp" or "unix"), Addr, Username, Password and TLS name the
	// Redis server the tracking connection goes to (the data server).
	// Defaults: "tcp" ("unix" when Addr starts with "/"), 127.0.0.1:6379,
	// no AUTH, plain TCP.
	Network  string
	Addr     string
	Username string
	Password string
	TLS      *tls.Config
	// DialTimeout bounds connecting and the handshake. Default: 5s.
	DialTimeout time.Duration
	// ReadTimeout bounds a PING's reply on the tracking connection.
	// Default: 5s.
	ReadTimeout time.Duration
	// PingInterval is how often the tracking connection is checked; a
	// connection silent for PingInterval+ReadTimeout is dropped (and the
	// cache flushed). Default: 1s.
	PingInterval time.Duration
}

// Defaults, applied by withDefaults.
const (
	DefaultMaxEntries   = 10000
	DefaultMaxBytes     = 64 << 20
	DefaultTTL          = 60 * time.Second
	defaultAddr         = "127.0.0.1:6379"
	defaultDialTimeout  = 5 * time.Second
	defaultReadTimeout  = 5 * time.Second
	defaultPingInterval = time.Second
)

func (o Options) withDefaults() Options {
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Addr == "" {
		o.Addr = defaultAddr
	}
	if o.Network == "" {
		o.Network = "tcp"
		if o.Addr[0] == '/' {
			o.Network = "unix"
		}
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = defaultDialTimeout
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = defaultReadTimeout
	}
	if o.PingInterval <= 0 {
		o.PingInterval = defaultPingInterval
	}
	return o
}

// Stats are a Cache's counters since New.
type Stats struct {
	Hits          int64 // Get found a live entry
	Misses        int64 // Get found nothing (or an expired entry)
	Fills         int64 // values stored by Fill
	Dropped       int64 // fills refused because the key changed meanwhile
	Evictions     int64 // entries removed to stay within the bounds
	Expired       int64 // entries found expired by Get
	Invalidations int64 // keys invalidated (pushed by Redis or by the caller)
	Flushes       int64 // whole-cache flushes (FLUSHDB push, Flush, tracking changes)
	Connects      int64 // tracking connections confirmed
	Failures      int64 // tracking connections that failed or were lost
	Entries       int64 // entries now
	Bytes         int64 // bytes now (see Options.MaxBytes)
	Tracking      bool  // tracking is confirmed now (entries may be served)
	TrackingID    int64 // CLIENT ID of the tracking connection (0 when down)
	LastError     string
}

// Cache is a near-cache with its tracking connection. It is safe for
// concurrent use. New does not connect; the first Get starts the tracking
// connection in the background.
type Cache struct {
	s     *store
	t     *tracker
	start sync.Once
}

// New returns a Cache for opts; it never touches the network.
func New(opts Options) *Cache {
	o := opts.withDefaults()
	s := newStore(o)
	return &Cache{s: s, t: newTracker(o, s)}
}

// Get returns key's cached value (never modify it) and true on a hit. The
// first call starts the tracking connection.
func (c *Cache) Get(key string) ([]byte, bool) {
	c.start.Do(c.t.start)
	return c.s.get(key)
}

// Begin returns the Ticket to pass to Fill after fetching key from Redis;
// take it before the fetch is sent.
func (c *Cache) Begin(key string) Ticket {
	c.start.Do(c.t.start)
	return c.s.begin(key)
}

// Fill stores a copy of value, fetched for key with ticket t, unless the key
// was invalidated, the cache flushed or tracking changed since t was taken.
// redisTTL is the key's remaining time to live in Redis when it was fetched
// (< 0: none; 0: expired, nothing is stored); the entry expires at min(Options.TTL, redisTTL) after t was
// taken. It reports whether the value was stored.
func (c *Cache) Fill(t Ticket, key string, value []byte, redisTTL time.Duration) bool {
	return c.s.fill(t, key, value, redisTTL)
}

// Invalidate drops keys and makes fills of them that are in flight fail.
func (c *Cache) Invalidate(keys ...string) { c.s.invalidate(keys) }

// Flush drops every entry and makes every fill in flight fail.
func (c *Cache) Flush() { c.s.flush() }

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	st := c.s.stats()
	st.Connects = c.t.connects.Load()
	st.Failures = c.t.failures.Load()
	st.TrackingID = c.t.id.Load()
	if p := c.t.lastErr.Load(); p != nil {
		st.LastError = *p
	}
	return st
}

// String formats s as "hits=N misses=N …" (counters only).
func (s Stats) String() string {
	tracking := 0
	if s.Tracking {
		tracking = 1
	}
	return fmt.Sprintf("hits=%d misses=%d fills=%d dropped=%d evictions=%d expired=%d invalidations=%d flushes=%d connects=%d failures=%d entries=%d bytes=%d tracking=%d tracking_id=%d",
		s.Hits, s.Misses, s.Fills, s.Dropped, s.Evictions, s.Expired, s.Invalidations, s.Flushes, s.Connects, s.Failures, s.Entries, s.Bytes, tracking, s.TrackingID)
}

// Close stops the tracking connection and empties the cache for good.
func (c *Cache) Close() {
	c.start.Do(func() {}) // a Close before the first Get starts nothing
	c.t.close()
	c.s.reset(false)
}
