// Package shard spreads the cache operations of core/client over several
// Redis servers, in one of three layouts:
//
//   - Ring: each key lives on one server chosen by a core/ring placement
//     (django-redis-cache's ring by default, or hash_ring as django-kidoredis
//     used it), so a switched site finds its keys where they are.
//   - Copy: every server holds every key. Writes go to all servers in
//     parallel; reads go to one server and fall back to the next when it is
//     down (connection error or timeout).
//   - Primary: one primary takes writes and read-modify-write operations;
//     reads are spread over the replicas, skipping one that is down, with the
//     primary as the last resort.
//
// Multi-key operations are split per server and run as one pipeline (or one
// MGET/DEL) per server, concurrently: one round trip per involved server per
// call. A miss is a false "found" result, as in core/client. An error that
// involves several servers is an *Error naming each failed server.
package shard

import (
	"sync/atomic"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/ring"
)

// Mode is the layout of the servers.
type Mode int

const (
	// Ring places each key on one server with a ring (see Options.HashRing).
	Ring Mode = iota
	// Copy keeps every key on every server.
	Copy
	// Primary writes to one server (Options.Primary) and reads from the others.
	Primary
)

// String names the mode as the configuration document spells it.
func (m Mode) String() string {
	switch m {
	case Ring:
		return "ring"
	case Copy:
		return "copy"
	case Primary:
		return "primary"
	}
	return "unknown"
}

// HashRing names a ring placement for Mode Ring.
type HashRing string

const (
	// SeedRing is django-redis-cache 3.0.1's ring (ring.NewSeed).
	SeedRing HashRing = "seed"
	// KidoredisRing is hash_ring as django-kidoredis' RedisRing used it
	// (ring.NewKidoredis over the labels "0", "1", …).
	KidoredisRing HashRing = "kidoredis"
	// DjangoRedisRing is django-redis' ShardClient ring (ring.NewDjangoRedis
	// over Names, which must then be the LOCATION entries as written).
	DjangoRedisRing HashRing = "django-redis"
)

// Options configures a Cache. Zero values mean the defaults named on each
// field; they are applied in one place, by withDefaults.
type Options struct {
	// Servers are the servers in LOCATION order; at least one.
	Servers []client.Options
	// Mode is the layout. Default: Ring (with one server: that server).
	Mode Mode
	// HashRing is the placement for Mode Ring. Default: SeedRing.
	HashRing HashRing
	// Names are the seed ring's node names, one per server: Python's repr
	// of the identifier tuple (ring.Identifier). Default: computed from
	// each server's Addr and DB as a host:port LOCATION entry would give
	// ('host', port, db, None), or (None, None, db, 'path') for a socket.
	Names []string
	// Weights are the ring weights, one per server (>= 1), or nil for
	// equal weights. Equal weights place keys as no weights do.
	Weights []int
	// Primary is the index of the primary server in Mode Primary.
	// Default: 0 (the first LOCATION entry, as django-redis-cache did).
	Primary int
	// DownFor is how long reads skip a server after it failed with a
	// connection error or a timeout, when another server can serve them.
	// Default: 1s.
	DownFor time.Duration
}

const defaultDownFor = time.Second

func (o Options) withDefaults() Options {
	if o.HashRing == "" {
		o.HashRing = SeedRing
	}
	if o.DownFor <= 0 {
		o.DownFor = defaultDownFor
	}
	if len(o.Names) == 0 {
		o.Names = make([]string, len(o.Servers))
		for i, s := range o.Servers {
			o.Names[i] = defaultName(s)
		}
	}
	return o
}

// Cache is a set of servers behind the cache operations of core/client.
// It is safe for concurrent use. Close releases every connection.
type Cache struct {
	servers  []*client.Client
	one      *client.Client // the server when there is only one: calls skip routing
	mode     Mode
	ring     ring.Ring // Mode Ring with more than one server
	primary  int
	replicas []int // Mode Primary: every index but primary
	next     atomic.Uint64
	downFor  time.Duration
	down     []atomic.Int64 // unix nanos until which reads skip the server
}

// New returns a Cache over opts.Servers. Like client.New it does not touch
// the network. It fails only on an invalid configuration.
func New(opts Options) (*Cache, error) {
	o := opts.withDefaults()
	n := len(o.Servers)
	if n == 0 {
		return nil, configError("at least one server is needed")
	}
	if len(o.Names) != n {
		return nil, configError("%d ring names for %d servers", len(o.Names), n)
	}
	c := &Cache{mode: o.Mode, primary: o.Primary, downFor: o.DownFor, down: make([]atomic.Int64, n)}
	switch o.Mode {
	case Ring:
		if n > 1 || len(o.Weights) > 0 {
			r, err := newRing(o)
			if err != nil {
				return nil, err
			}
			c.ring = r
		}
	case Copy:
	case Primary:
		if o.Primary < 0 || o.Primary >= n {
			return nil, configError("primary %d is not one of the %d servers", o.Primary, n)
		}
		for i := 0; i < n; i++ {
			if i != o.Primary {
				c.replicas = append(c.replicas, i)
			}
		}
	default:
		return nil, configError("unknown mode %d", o.Mode)
	}
	c.servers = make([]*client.Client, n)
	for i, s := range o.Servers {
		c.servers[i] = client.New(s)
	}
	if n == 1 {
		c.one = c.servers[0]
	}
	return c, nil
}

func newRing(o Options) (ring.Ring, error) {
	switch o.HashRing {
	case SeedRing:
		return ring.NewSeed(o.Names, o.Weights)
	case KidoredisRing:
		return ring.NewKidoredis(ring.KidoredisLabels(len(o.Servers)), o.Weights)
	case DjangoRedisRing:
		return ring.NewDjangoRedis(o.Names, o.Weights)
	}
	return nil, configError("unknown hash ring %q (seed, kidoredis or django-redis)", o.HashRing)
}

// Mode returns the layout.
func (c *Cache) Mode() Mode { return c.mode }

// Len returns the number of servers.
func (c *Cache) Len() int { return len(c.servers) }

// Server returns the client of server i (LOCATION order), for callers that
// need one server directly (tests, tools).
func (c *Cache) Server(i int) *client.Client { return c.servers[i] }

// Locate returns the index of the server that holds key: the ring's choice
// in Mode Ring, the primary in Mode Primary, server 0 in Mode Copy.
func (c *Cache) Locate(key string) int {
	switch {
	case c.ring != nil:
		return c.ring.Locate(key)
	case c.mode == Primary:
		return c.primary
	}
	return 0
}

// String describes the servers without credentials.
func (c *Cache) String() string {
	if len(c.servers) == 1 {
		return c.servers[0].String()
	}
	s := c.mode.String() + " of"
	for i, srv := range c.servers {
		if i > 0 {
			s += ","
		}
		s += " " + srv.String()
	}
	return s
}

// Close closes every server's connections; it returns the first error.
func (c *Cache) Close() error {
	var first error
	for _, s := range c.servers {
		if err := s.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (c *Cache) isDown(i int) bool {
	return time.Now().UnixNano() < c.down[i].Load()
}

func (c *Cache) markDown(i int) {
	c.down[i].Store(time.Now().Add(c.downFor).UnixNano())
}
