// Package djcache lets a Go service share a cache with a Django site that
// uses redis-cache-go (or django-redis-cache, django-redis or Django's own
// RedisCache): the same settings, the same keys, the same stored bytes, and
// the same server for every key when the cache is spread over several.
//
// # Opening
//
// Copy the values of the site's CACHES entry into Options:
//
//	c, err := djcache.Open(djcache.Options{
//		Location:   []string{"redis://cache1:6379/1", "redis://cache2:6379/1"}, // LOCATION
//		KeyPrefix:  "shop",                                                     // KEY_PREFIX
//		Compressor: codec.Zlib,                                                 // OPTIONS["COMPRESSOR"]
//	})
//
// or give the LOCATION string to OpenURL. Nothing touches the network until
// the first operation. LOCATION entries are read as the Python package reads
// them (host:port, a socket path, redis://, rediss://, unix:// URLs; DB 1 when
// none is named), and several servers are placed by core/shard, the code the
// Python package runs, so a key lives on the same server whichever side wrote
// it. ShardOptions shows what a configuration resolves to.
//
// # Keys
//
// Keys are made as Django makes them, "<KEY_PREFIX>:<VERSION>:<key>", unless
// Options.KeyFunc (KEY_FUNCTION) says otherwise. Every method takes the
// cache key, before MakeKey.
//
// # Values
//
// Values cross between the languages as Django stores them: a Go integer
// as decimal text (so Incr works on the server, and Python reads an int),
// anything else serialized (pickle by default, JSON or msgpack) and then
// compressed by core/codec. Reads recognise every compressor by its magic
// bytes, whatever Options.Compressor is. Pickled Python values arrive as the
// Go types listed in core/pickle (a dict as pickle.Dict, a datetime as
// time.Time …); GetInto converts them into a typed variable. A value that
// cannot be read is a *ValueError naming the key; errors.As finds a
// *pickle.UnsupportedTypeError naming the Python type, or a
// *pickle.MismatchError naming both types.
//
// # Protected values
//
// With Options.ValueProtection ("sign" or "encrypt", the site's
// OPTIONS["VALUE_PROTECTION"]) every value but a plain integer is stored
// signed or encrypted for its Redis key, with keys derived from
// Options.ProtectionKeys (the site's SECRET_KEY and SECRET_KEY_FALLBACKS,
// or its PROTECTION_KEY), exactly as the Python package stores it. A value
// read that does not verify (written by someone without the key, or for
// another key) never reaches the serializer: it is a miss, passed to
// Options.OnReject, or with ProtectionErrors "raise" a *RejectedError.
//
// # Opened as the Python package opens it
//
// A Cache is a core/cache.Cache underneath, configured as the Python
// package configures one from the same settings: the near-cache
// (Options.LocalCache, OPTIONS["LOCAL_CACHE"]), Redis Cluster and Sentinel
// (Options.Cluster, Options.Sentinels …), the circuit breaker, fail-open
// (Options.IgnoreExceptions), herd-protected GetOrSet, and counters shared
// by every Cache of equal Options in the process (Stats).
package djcache

import (
	"fmt"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/cache"
	"github.com/redis-cache-go/redis-cache-go/core/codec"
	"github.com/redis-cache-go/redis-cache-go/core/expiry"
	"github.com/redis-cache-go/redis-cache-go/core/herd"
	"github.com/redis-cache-go/redis-cache-go/core/nearcache"
	"github.com/redis-cache-go/redis-cache-go/core/shard"
	"github.com/redis-cache-go/redis-cache-go/core/stats"
)

// Forever, as a ttl or as Options.Timeout, stores a key without expiry
// (Django's timeout=None).
const Forever time.Duration = -1

// DefaultTimeout is the default of Options.Timeout: 300 seconds, Django's.
const DefaultTimeout = 300 * time.Second

// KeyFunc makes the Redis key for a Django cache key, like Django's
// KEY_FUNCTION setting: it receives the key, Options.KeyPrefix and
// Options.Version.
type KeyFunc func(key, prefix string, version int) string

// DefaultKeyFunc is Django's default_key_func: "<prefix>:<version>:<key>".
func DefaultKeyFunc(key, prefix string, version int) string {
	return fmt.Sprintf("%s:%d:%s", prefix, version, key)
}

// Options are a Django CACHES entry in Go. The zero value of a field means
// its default, named on the field; defaults are applied in one place
// (withDefaults).
type Options struct {
	// Location lists the servers as LOCATION does: "host:port",
	// "[::1]:6379", a bare host, a socket path, or a redis://, rediss:// or
	// unix:// URL (with ?db=, ?socket_timeout=, ?socket_connect_timeout=,
	// ?ssl_cert_reqs=); or the seed nodes of one Redis Cluster, every entry
	// a redis+cluster:// or rediss+cluster:// URL (database 0). Use
	// SplitLocation for a comma-separated string. Default (nil):
	// "127.0.0.1:6379"; an empty non-nil list is an error, as in Django.
	Location []string
	// DB is the database for entries that do not name one (OPTIONS["DB"]).
	// Default: DefaultDB (1), 0 with Cluster. Use DB(0) for database 0.
	DB *int
	// Password is OPTIONS["PASSWORD"], sent by every entry whose URL
	// carries none of its own (a URL's own password wins). Default: none.
	Password string
	// Mode is the layout of several servers: shard.Ring is Python's
	// ShardedRedisCache, shard.Copy is RedisCopyCache, shard.Primary is
	// RedisCache with several LOCATIONs. Default: shard.Ring.
	Mode shard.Mode
	// HashRing is OPTIONS["HASH_RING"] (shard.DjangoRedisRing for a site
	// on django-redis' ShardClient). Default: shard.SeedRing.
	HashRing shard.HashRing
	// Weights are OPTIONS["WEIGHTS"] as a list aligned with Location.
	// Default: equal.
	Weights []int
	// Primary is the index of MASTER_CACHE in Location for shard.Primary.
	// Default: 0.
	Primary int
	// SocketTimeout and ConnectTimeout are OPTIONS["SOCKET_TIMEOUT"] and
	// ["SOCKET_CONNECT_TIMEOUT"]. Default: core/client's (5s each).
	SocketTimeout, ConnectTimeout time.Duration
	// MaxConnections bounds each server's connection pool
	// (CONNECTION_POOL_CLASS_KWARGS max_connections). Default: core/client's.
	MaxConnections int

	// KeyPrefix is KEY_PREFIX. Default: "".
	KeyPrefix string
	// Version is VERSION, the default key version. Default: 1.
	Version int
	// KeyFunc is KEY_FUNCTION. Default: DefaultKeyFunc.
	KeyFunc KeyFunc
	// Timeout is TIMEOUT, the ttl of a Set given ttl 0. Forever stores
	// without expiry. Default: DefaultTimeout.
	Timeout time.Duration
	// StaleTimeout is get_or_set's stale window: GetOrSet stores values for
	// their ttl plus this long, serving them stale while one caller
	// recomputes. Forever: values never expire. Default: DefaultStaleTimeout.
	StaleTimeout time.Duration
	// LockTimeout is the TTL of GetOrSet's recompute lock, which always
	// expires. Default: core/herd's DefaultLockTTL (30s).
	LockTimeout time.Duration

	// Serializer turns values into bytes (OPTIONS["SERIALIZER"]).
	// Default: Pickle.
	Serializer Serializer
	// Compressor, CompressorLevel and CompressMinLen are OPTIONS'
	// COMPRESSOR, COMPRESSOR_LEVEL and COMPRESS_MIN_LEN. Default: no
	// compression.
	Compressor      codec.Format
	CompressorLevel int
	CompressMinLen  int

	// LocalCache is OPTIONS["LOCAL_CACHE"]: an in-process near-cache kept
	// correct by Redis' invalidations (one server, several servers or a
	// Cluster; not with Sentinels). Default:
	// nil, off.
	LocalCache *LocalCache
	// Cluster is OPTIONS["CLUSTER"]: Location lists seed nodes of a Redis
	// Cluster (database 0). Default: false.
	Cluster bool
	// Sentinels are OPTIONS["SENTINELS"] ("host:port" each): Location then
	// supplies only the database and the password of the primary that the
	// Sentinels name SentinelService. Default: none.
	Sentinels []string
	// SentinelService is OPTIONS["SENTINEL_SERVICE"], the master name.
	// Default: none.
	SentinelService string
	// SentinelPassword is OPTIONS["SENTINEL_PASSWORD"], sent to the
	// Sentinels. Default: none.
	SentinelPassword string
	// ReadFromReplicas is OPTIONS["READ_FROM_REPLICAS"]: with Cluster or
	// Sentinels, reads go to replicas too. Default: false.
	ReadFromReplicas bool
	// CircuitBreakerFailures is OPTIONS["CIRCUIT_BREAKER_FAILURES"]: the
	// consecutive connection or timeout failures that open the circuit
	// breaker; negative: no breaker. Default: 5 (core/breaker).
	CircuitBreakerFailures int
	// CircuitBreakerCooldown is OPTIONS["CIRCUIT_BREAKER_COOLDOWN"]: how
	// long an open breaker fails calls at once. Default: 1s (core/breaker).
	CircuitBreakerCooldown time.Duration
	// IgnoreExceptions is OPTIONS["IGNORE_EXCEPTIONS"], fail-open: a
	// connection or timeout error, or a value that cannot be read, is a
	// miss or a no-op instead of an error (see IgnoredErrors). Default:
	// false.
	IgnoreExceptions bool
	// IgnoredErrors, when set, is called with every error IgnoreExceptions
	// turns into a miss (to log it: the Python package logs them).
	// Default: nil.
	IgnoredErrors func(error)

	// ValueProtection is OPTIONS["VALUE_PROTECTION"]: "sign" (HMAC-SHA256)
	// or "encrypt" (XChaCha20-Poly1305) every stored value that is not a
	// plain integer, bound to its Redis key (core/protect), and refuse to
	// deserialize a value read that does not verify. Needs ProtectionKeys.
	// Default: "", off (the other protection fields are then ignored).
	ValueProtection string
	// ProtectionKeys are the secrets the protection keys are derived from:
	// the first writes, every one reads. Give the Django site's SECRET_KEY
	// then its SECRET_KEY_FALLBACKS, or its OPTIONS["PROTECTION_KEY"] list.
	// None may be empty; they never appear in a message. Default: none.
	ProtectionKeys []string
	// ProtectionErrors is OPTIONS["PROTECTION_ERRORS"]: "miss" (a value
	// that does not verify is absent: Get and GetMany miss it, GetOrSet
	// computes it again; it is counted as Rejected in Stats and passed to
	// OnReject) or "raise" (reads return a *RejectedError). Default:
	// "miss".
	ProtectionErrors string
	// AcceptUnprotected is OPTIONS["ACCEPT_UNPROTECTED"]: values without
	// protection are accepted too, for a rollout (anyone who can write to
	// Redis can then feed the deserializer). Default: false.
	AcceptUnprotected bool
	// OnReject receives each value rejected as a miss, at most one per key
	// per minute (its key and why, never its bytes); it must not block.
	// Default: LogRejection, a warning on log/slog's default logger.
	OnReject func(Rejection)
}

// LocalCache is OPTIONS["LOCAL_CACHE"]. Zero fields mean core/nearcache's
// defaults.
type LocalCache struct {
	// MaxEntries bounds the entries. Default: 10,000.
	MaxEntries int
	// MaxBytes bounds their bytes. Default: 64 MiB.
	MaxBytes int64
	// TTL is the longest an entry is served. Default: 60s.
	TTL time.Duration
}

// DB returns a pointer to n, for Options.DB.
func DB(n int) *int { return &n }

func (o Options) withDefaults() Options {
	if len(o.Location) == 0 {
		o.Location = []string{"127.0.0.1:6379"}
	}
	if o.DB == nil {
		o.DB = DB(DefaultDB)
		if o.Cluster {
			o.DB = DB(0) // a Redis Cluster has database 0 only
		}
	}
	if o.Version == 0 {
		o.Version = 1
	}
	if o.KeyFunc == nil {
		o.KeyFunc = DefaultKeyFunc
	}
	if o.StaleTimeout == 0 {
		o.StaleTimeout = DefaultStaleTimeout
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = herd.DefaultLockTTL
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Serializer == nil {
		o.Serializer = Pickle
	}
	if o.ProtectionErrors == "" {
		o.ProtectionErrors = "miss"
	}
	if o.OnReject == nil {
		o.OnReject = LogRejection
	}
	return o
}

// Cache is a Django cache seen from Go. It is safe for concurrent use;
// Close releases its connections.
type Cache struct {
	opts  Options
	c     *cache.Cache
	codec *codec.Codec // Encode and Decode's, as configured for c
}

// ShardOptions returns the core/shard configuration that opts describe:
// one client.Options and one ring node name per Location entry (the seed
// ring's identifier repr, or the entry itself for shard.DjangoRedisRing),
// derived as the Python package derives them from the same settings.
func ShardOptions(opts Options) (shard.Options, error) {
	cfg, err := config(opts)
	if err != nil {
		return shard.Options{}, err
	}
	so, err := cfg.ShardOptions()
	if err != nil {
		return shard.Options{}, fmt.Errorf("djcache: %w", err)
	}
	return so, nil
}

// Open returns a Cache for opts. It validates the settings but does not
// touch the network; the first operation connects.
func Open(opts Options) (*Cache, error) {
	o := opts.withDefaults()
	cfg, err := config(opts)
	if err != nil {
		return nil, err
	}
	cd, err := codec.New(codec.Options{Format: o.Compressor, Level: o.CompressorLevel, MinLen: o.CompressMinLen})
	if err != nil {
		return nil, fmt.Errorf("djcache: %w", err)
	}
	c, err := cache.Open(cfg)
	if err != nil {
		return nil, fmt.Errorf("djcache: %w", err)
	}
	warnIgnoredProtection(opts)
	return &Cache{opts: o, c: c, codec: cd}, nil
}

// OpenURL opens a cache on the servers of location, a LOCATION string
// (one URL or entry, or several separated by commas), with the other
// settings of opts (whose Location it replaces).
func OpenURL(location string, opts Options) (*Cache, error) {
	opts.Location = SplitLocation(location)
	return Open(opts)
}

// MakeKey returns the Redis key for key at the default version.
func (c *Cache) MakeKey(key string) string {
	return c.opts.KeyFunc(key, c.opts.KeyPrefix, c.opts.Version)
}

// MakeKeyVersion returns the Redis key for key at version.
func (c *Cache) MakeKeyVersion(key string, version int) string {
	return c.opts.KeyFunc(key, c.opts.KeyPrefix, version)
}

// AtVersion returns the cache with keys made at version instead of
// Options.Version, as Django's version= argument does for one call. It
// shares c's connections: close only one of them.
func (c *Cache) AtVersion(version int) *Cache {
	v := *c
	v.opts.Version = version
	return &v
}

// Locate returns the index in Options.Location of the server that holds
// key (a cache key, before MakeKey), as the Python package picks it.
func (c *Cache) Locate(key string) int { return c.c.Locate(c.MakeKey(key)) }

// Shards returns the servers behind the cache, for raw commands (a write
// through them bypasses the near-cache's invalidation of own writes).
func (c *Cache) Shards() *shard.Cache { return c.c.Shards() }

// Stats returns the servers' counters in Location order, counted by every
// Cache opened with equal Options in this process (core/cache.Stats).
func (c *Cache) Stats() []stats.Snapshot { return c.c.Stats() }

// NearStats returns the near-cache's counters, or false without
// Options.LocalCache.
func (c *Cache) NearStats() (nearcache.Stats, bool) { return c.c.NearStats() }

// Close closes every connection (and stops the near-cache).
func (c *Cache) Close() error { return c.c.Close() }

// String describes the servers without credentials.
func (c *Cache) String() string { return "djcache " + c.c.String() }

// ttl turns a ttl argument into the TTL core/client wants (0: none), in
// whole milliseconds (at least 1).
func (c *Cache) ttl(d time.Duration) expiry.TTL {
	if d == 0 {
		d = c.opts.Timeout
	}
	return expiry.Of(d)
}
