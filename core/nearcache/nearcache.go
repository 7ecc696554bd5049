// Package nearcache is an in-process cache of Redis values kept correct by
// Redis' server-assisted client-side caching.
//
// A Cache holds up to Options.MaxEntries values and Options.MaxBytes bytes
// (key + value + EntryOverhead per entry), evicting the least recently used.
// Each entry lives at most Options.TTL and never past the key's own Redis
// expiry as the caller reported it at fill time.
//
// Correctness comes from one dedicated connection per tracked server (the
// servers values are read from: Options.Servers, and those Track adds) that
// speaks RESP3 and runs CLIENT TRACKING ON BCAST PREFIX Options.Prefix:
// Redis pushes the name of every key under the prefix that any client
// modifies, expires or evicts on that server, and a null for
// FLUSHDB/FLUSHALL. Every server feeds one store (one LRU, one set of
// bounds and counters). BCAST mode was chosen over
// default tracking because it needs no per-connection state: default
// tracking must run CLIENT TRACKING ON REDIRECT <id> on every data
// connection that reads (go-redis' pool and any raw fast-path connection),
// again after every reconnect of either side, and a read on a connection
// whose redirect is not yet set up would silently go untracked. BCAST costs
// one push per write under the prefix, which a cache's write rate affords,
// and no tracking table on the server.
//
// Rules the Cache enforces:
//   - A value is kept only when it was read from a tracked server whose
//     tracking connection was confirmed when its Ticket was taken
//     (BeginFrom). When any tracking connection drops (or misses its health
//     check), the whole cache is flushed (its lost invalidations may have
//     concerned any entry), and nothing read from that server is kept until
//     tracking is confirmed again.
//   - A fill is dropped when an invalidation of its key (or a flush, or the
//     loss of any tracking connection) happened after its Ticket was taken,
//     so a value read while a write raced it is never kept.
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

	// Servers are the Redis servers values are read from, each with its
	// own tracking connection; Track adds more later (a Cluster's nodes).
	// Default: one Server made of the fields below (a one-server cache).
	Servers []Server

	// Network, Addr, Username, Password, TLS, DialTimeout and ReadTimeout
	// describe the one server when Servers is empty (see Server for their
	// defaults); they are ignored otherwise.
	Network     string
	Addr        string
	Username    string
	Password    string
	TLS         *tls.Config
	DialTimeout time.Duration
	ReadTimeout time.Duration

	// PingInterval is how often each tracking connection is checked; a
	// connection silent for PingInterval+ReadTimeout is dropped (and the
	// cache flushed). Default: 1s.
	PingInterval time.Duration
}

// Server is one Redis server a tracking connection goes to. Zero values
// mean the defaults named on each field (applied by Server.withDefaults).
type Server struct {
	// ID names the server in BeginFrom and Retain. Default: Addr.
	ID string
	// Network ("tcp" or "unix"), Addr, Username, Password and TLS say how
	// to reach the server. Defaults: "tcp" ("unix" when Addr starts with
	// "/"), 127.0.0.1:6379, no AUTH, plain TCP.
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
	if len(o.Servers) == 0 {
		o.Servers = []Server{{Network: o.Network, Addr: o.Addr, Username: o.Username, Password: o.Password,
			TLS: o.TLS, DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout}}
	}
	if o.PingInterval <= 0 {
		o.PingInterval = defaultPingInterval
	}
	return o
}

func (s Server) withDefaults() Server {
	if s.Addr == "" {
		s.Addr = defaultAddr
	}
	if s.Network == "" {
		s.Network = "tcp"
		if s.Addr[0] == '/' {
			s.Network = "unix"
		}
	}
	if s.ID == "" {
		s.ID = s.Addr
	}
	if s.DialTimeout <= 0 {
		s.DialTimeout = defaultDialTimeout
	}
	if s.ReadTimeout <= 0 {
		s.ReadTimeout = defaultReadTimeout
	}
	return s
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
	Flushes       int64 // whole-cache flushes (FLUSHDB push, Flush, tracking losses)
	Connects      int64 // tracking connections confirmed (all servers)
	Failures      int64 // tracking connections that failed or were lost (all servers)
	Entries       int64 // entries now
	Bytes         int64 // bytes now (see Options.MaxBytes)
	Tracking      bool  // every tracked server's tracking is confirmed now
	TrackingID    int64 // CLIENT ID of the first server's tracking connection (0 when down)
	Tracked       int64 // servers tracked now (one tracking connection each)
	TrackedUp     int64 // of which confirmed now
	LastError     string
}

// Cache is a near-cache with one tracking connection per server it reads
// from. It is safe for concurrent use. New does not connect; the first Get
// starts the tracking connections in the background.
type Cache struct {
	s     *store
	o     Options
	start sync.Once

	mu       sync.RWMutex
	trackers map[string]*tracker // by Server.ID
	order    []string            // IDs in the order they were added
	started  bool
	closed   bool
	retired  [2]int64 // connects and failures of trackers Retain stopped
}

// New returns a Cache for opts; it never touches the network.
func New(opts Options) *Cache {
	o := opts.withDefaults()
	c := &Cache{s: newStore(o), o: o, trackers: map[string]*tracker{}}
	for _, srv := range o.Servers {
		c.Track(srv)
	}
	return c
}

func (c *Cache) startAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.started = true
	for _, id := range c.order {
		c.trackers[id].start()
	}
}

// Track adds srv to the tracked servers (a no-op when its ID is tracked
// already) and reports whether it was added. Its tracking connection
// starts at once when the cache has started (see Get), else with the
// others; until it confirms, BeginFrom(srv.ID, …) tickets keep nothing.
func (c *Cache) Track(srv Server) bool {
	if srv.ID != "" { // the common case, a node tracked already: a read lock only
		c.mu.RLock()
		known := c.trackers[srv.ID] != nil
		c.mu.RUnlock()
		if known {
			return false
		}
	}
	srv = srv.withDefaults()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.trackers[srv.ID] != nil {
		return false
	}
	t := newTracker(srv, c.o, c.s)
	c.trackers[srv.ID] = t
	c.order = append(c.order, srv.ID)
	if c.started {
		t.start()
	}
	return true
}

// Retain stops tracking every server whose ID keep rejects (a node that
// left a Cluster) and returns how many it stopped; when one of them was
// confirmed, the cache is flushed (its invalidations end with it).
func (c *Cache) Retain(keep func(id string) bool) int {
	c.mu.Lock()
	var gone []*tracker
	order := c.order[:0]
	for _, id := range c.order {
		if keep(id) {
			order = append(order, id)
			continue
		}
		gone = append(gone, c.trackers[id])
		delete(c.trackers, id)
	}
	c.order = order
	c.mu.Unlock()
	for _, t := range gone {
		t.close()
		c.s.setDown(t.src)
		c.mu.Lock()
		c.retired[0] += t.connects.Load()
		c.retired[1] += t.failures.Load()
		c.mu.Unlock()
	}
	return len(gone)
}

// Tracked returns the IDs of the tracked servers, in the order added.
func (c *Cache) Tracked() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return append([]string(nil), c.order...)
}

// TrackingIDs returns the CLIENT ID of each tracked server's tracking
// connection by server ID (0 while it is down).
func (c *Cache) TrackingIDs() map[string]int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make(map[string]int64, len(c.trackers))
	for id, t := range c.trackers {
		out[id] = t.id.Load()
	}
	return out
}

// Get returns key's cached value (never modify it) and true on a hit. The
// first call starts the tracking connections.
func (c *Cache) Get(key string) ([]byte, bool) {
	c.start.Do(c.startAll)
	return c.s.get(key)
}

// Begin is BeginFrom the first server: for a cache of one server.
func (c *Cache) Begin(key string) Ticket {
	c.start.Do(c.startAll)
	c.mu.RLock()
	var src *source
	if len(c.order) > 0 {
		src = c.trackers[c.order[0]].src
	}
	c.mu.RUnlock()
	return c.s.begin(src, key)
}

// BeginFrom returns the Ticket to pass to Fill after fetching key from the
// server tracked as id; take it before the fetch is sent. The ticket keeps
// nothing (OK is false) when that server is not tracked or its tracking is
// not confirmed: a value may be kept only from a server whose
// invalidations arrive.
func (c *Cache) BeginFrom(id, key string) Ticket {
	c.start.Do(c.startAll)
	c.mu.RLock()
	var src *source
	if t := c.trackers[id]; t != nil {
		src = t.src
	}
	c.mu.RUnlock()
	return c.s.begin(src, key)
}

// Fill stores a copy of value, fetched for key with ticket t, unless the key
// was invalidated, the cache flushed or a tracking connection lost since t
// was taken. redisTTL is the key's remaining time to live in Redis when it
// was fetched (< 0: none; 0: expired, nothing is stored); the entry expires
// at min(Options.TTL, redisTTL) after t was taken. It reports whether the
// value was stored.
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
	c.mu.RLock()
	srcs := make([]*source, 0, len(c.order))
	st.Connects, st.Failures = c.retired[0], c.retired[1]
	for i, id := range c.order {
		t := c.trackers[id]
		srcs = append(srcs, t.src)
		st.Connects += t.connects.Load()
		st.Failures += t.failures.Load()
		if i == 0 {
			st.TrackingID = t.id.Load()
		}
		if p := t.lastErr.Load(); p != nil {
			st.LastError = *p
		}
	}
	c.mu.RUnlock()
	st.Tracked = int64(len(srcs))
	st.TrackedUp = int64(c.s.upCount(srcs))
	st.Tracking = st.Tracked > 0 && st.TrackedUp == st.Tracked
	return st
}

// String formats s as "hits=N misses=N …" (counters only).
func (s Stats) String() string {
	tracking := 0
	if s.Tracking {
		tracking = 1
	}
	return fmt.Sprintf("hits=%d misses=%d fills=%d dropped=%d evictions=%d expired=%d invalidations=%d flushes=%d connects=%d failures=%d entries=%d bytes=%d tracking=%d tracking_id=%d tracked=%d tracked_up=%d",
		s.Hits, s.Misses, s.Fills, s.Dropped, s.Evictions, s.Expired, s.Invalidations, s.Flushes, s.Connects, s.Failures, s.Entries, s.Bytes, tracking, s.TrackingID, s.Tracked, s.TrackedUp)
}

// Close stops the tracking connections and empties the cache for good.
func (c *Cache) Close() {
	c.start.Do(func() {}) // a Close before the first Get starts nothing
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.Retain(func(string) bool { return false })
	c.s.flush()
}
