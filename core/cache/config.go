package cache

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Config is an opened cache's configuration: the JSON document the C
// library's rcg_open receives (built by the Python package from Django's
// CACHES entry), or a Go caller's settings. Unknown fields are an error
// when it is decoded (Parse), so a typo on either side cannot pass
// silently. The zero value of a field means its default, named on the
// field; defaults are applied in one place, by withDefaults (those of a
// connection by core/client, of the near-cache by core/nearcache).
type Config struct {
	// Endpoint is the one server when Servers is empty (its fields sit at
	// the top level of the document). Default: core/client's
	// (tcp 127.0.0.1:6379, db 0, no AUTH, plain TCP).
	Endpoint
	// ConnectTimeout bounds establishing a connection. Default: 5 s
	// (core/client).
	ConnectTimeout Seconds `json:"connect_timeout"`
	// SocketTimeout bounds waiting for each reply. Default: 5 s
	// (core/client).
	SocketTimeout Seconds `json:"socket_timeout"`
	// MaxConnections bounds each server's connection pool. Default: 10
	// per CPU, at least 16 (core/client).
	MaxConnections int `json:"max_connections"`
	// PoolTimeout bounds waiting for a free pooled connection. Default:
	// SocketTimeout + 1 s (core/client).
	PoolTimeout Seconds `json:"pool_timeout"`
	// BreakerFailures is the number of consecutive connection or timeout
	// failures that open the circuit breaker (core/breaker). Default: 5;
	// negative: no breaker.
	BreakerFailures int `json:"breaker_failures"`
	// BreakerCooldown is how long an open breaker fails calls at once.
	// Default: 1 s.
	BreakerCooldown Seconds `json:"breaker_cooldown"`
	// Codec is how values are compressed on the way to Redis and decoded
	// on the way back. Default: no compression, every known format
	// decoded.
	Codec *Codec `json:"codec"`
	// GoMaxProcs, when > 0, is set as runtime.GOMAXPROCS by Open (the Go
	// runtime does not see environment changes made after it started).
	// Default: 0, leave it alone.
	GoMaxProcs int `json:"gomaxprocs"`
	// Servers, when not empty, are several servers laid out by Mode; the
	// top-level Endpoint is then ignored, and the timeouts and pool
	// settings above apply to every server. Default: none (Endpoint).
	Servers []Server `json:"servers"`
	// Mode is the layout of Servers: "ring", "copy" or "primary"
	// (core/shard). Default: "ring".
	Mode string `json:"mode"`
	// HashRing is the ring placement in mode "ring": "seed"
	// (django-redis-cache), "kidoredis" or "django-redis". Default: "seed".
	HashRing string `json:"hash_ring"`
	// Primary is the index into Servers of the primary in mode "primary".
	// Default: 0.
	Primary int `json:"primary"`
	// Topology, when set, names a Redis Cluster or a Sentinel-watched
	// primary instead of Endpoint's address. Default: nil.
	Topology *Topology `json:"topology"`
	// LocalCache, when set, turns on the near-cache (core/nearcache) on
	// one server, a ring, copy or primary layout, or a Redis Cluster (not
	// a Sentinel topology), with one tracking connection per server a
	// near-cache miss reads from (see near.go). Default: nil, off.
	LocalCache *LocalCache `json:"local_cache"`
	// Protection, when set, signs or encrypts every stored value that is
	// not a plain integer and refuses to hand back one that does not
	// verify (core/protect). Default: nil, values stored as they are.
	Protection *Protection `json:"protection"`
	// OnReject, when set, receives each logged rejection (at most one per
	// key per minute) instead of the queue Rejections drains; it must not
	// block. Go callers only. Default: nil.
	OnReject func(Rejection) `json:"-"`
}

// Endpoint names one Redis server.
type Endpoint struct {
	// Network is "tcp" or "unix". Default: "tcp" ("unix" for an Addr
	// starting with "/").
	Network string `json:"network"`
	// Addr is host:port or a socket path. Default: "127.0.0.1:6379".
	Addr string `json:"addr"`
	// DB is the database selected on every connection. Default: 0.
	DB int `json:"db"`
	// Username is the ACL user sent with AUTH. Default: none.
	Username string `json:"username"`
	// Password is sent with AUTH when set; it never appears in a message.
	// Default: none.
	Password string `json:"password"`
	// TLS, when set, makes connections TLS. Default: nil, plain TCP.
	TLS *TLS `json:"tls"`
}

// Server is one entry of Config.Servers.
type Server struct {
	// Endpoint names the server.
	Endpoint
	// Name is the server's ring node name: for the seed ring Python's repr
	// of the server's identifier tuple, for the django-redis ring the
	// LOCATION entry as written. Default: "", derived from Addr and DB
	// (core/shard); give every server a name or none.
	Name string `json:"name"`
	// Weight is the ring weight (>= 1). Default: 1.
	Weight int `json:"weight"`
	// ConnectTimeout is this server's own (a LOCATION URL's
	// ?socket_connect_timeout=). Default: 0, Config's.
	ConnectTimeout Seconds `json:"connect_timeout"`
	// SocketTimeout is this server's own (a LOCATION URL's
	// ?socket_timeout=). Default: 0, Config's.
	SocketTimeout Seconds `json:"socket_timeout"`
}

// TLS is an Endpoint's TLS settings.
type TLS struct {
	// CAFile is a PEM bundle of the CAs to trust. Default: the system's.
	CAFile string `json:"ca_file"`
	// CertFile is the client certificate (PEM), given with KeyFile.
	// Default: none.
	CertFile string `json:"cert_file"`
	// KeyFile is CertFile's private key (PEM). Default: none.
	KeyFile string `json:"key_file"`
	// CertReqs is "required", "optional" (both verify the server) or
	// "none". Default: "required".
	CertReqs string `json:"cert_reqs"`
	// ServerName is the name verified and sent in SNI. Default: the host
	// of Addr.
	ServerName string `json:"server_name"`
}

// Topology names a Redis Cluster (Kind "cluster", Addrs = seed nodes) or a
// Sentinel deployment (Kind "sentinel", Addrs = the Sentinels, Service =
// the master name).
type Topology struct {
	// Kind is "cluster" or "sentinel".
	Kind string `json:"kind"`
	// Addrs are the seed nodes (cluster) or the Sentinels, host:port; at
	// least one.
	Addrs []string `json:"addrs"`
	// Service is the master name Sentinel watches (sentinel only).
	Service string `json:"service"`
	// SentinelPassword is sent to the Sentinels. Default: none.
	SentinelPassword string `json:"sentinel_password"`
	// ReadFromReplicas sends reads to replicas. Default: false.
	ReadFromReplicas bool `json:"read_from_replicas"`
}

// Codec is the value codec policy (core/codec).
type Codec struct {
	// Compressor is a codec.ParseFormat name. Default: "" (or "none"),
	// values are stored as given.
	Compressor string `json:"compressor"`
	// Level is the compression level. Default: 0, the compressor's own.
	Level int `json:"level"`
	// MinLen: shorter values are stored uncompressed. Default: 0.
	MinLen int `json:"min_len"`
	// MaxRatio bounds what a stored value may inflate to: this many times
	// its stored size, at least the format's floor (codec.Options.MaxRatio).
	// Default: 0, codec.DefaultMaxRatio; negative: 512 MiB only.
	MaxRatio int `json:"max_ratio"`
	// Decode false hands stored values back exactly as stored (the caller
	// decodes them). Default: true.
	Decode *bool `json:"decode"`
}

// LocalCache configures the near-cache (OPTIONS LOCAL_CACHE).
type LocalCache struct {
	// MaxEntries bounds the entries (>= 0). Default: 0, core/nearcache's.
	MaxEntries int `json:"max_entries"`
	// MaxBytes bounds the bytes held (>= 0). Default: 0, core/nearcache's.
	MaxBytes int64 `json:"max_bytes"`
	// TTL is the longest an entry is served (>= 0). Default: 0,
	// core/nearcache's.
	TTL Seconds `json:"ttl"`
	// Prefix is the key space tracked and cached. Default: "" (every key).
	Prefix string `json:"prefix"`
}

// Seconds is a duration in seconds, as the document spells durations.
type Seconds float64

// Duration returns s as a time.Duration.
func (s Seconds) Duration() time.Duration { return time.Duration(float64(s) * float64(time.Second)) }

// Parse decodes a configuration document; it checks the document's shape
// (unknown fields are an error), Open checks the values.
func Parse(doc []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("invalid configuration document: %w", err)
	}
	return c, nil
}

// withDefaults returns c with the defaults core/cache owns filled in.
func (c Config) withDefaults() Config {
	if c.Mode == "" {
		c.Mode = "ring"
	}
	if c.HashRing == "" {
		c.HashRing = "seed"
	}
	codec := Codec{}
	if c.Codec != nil {
		codec = *c.Codec
	}
	if codec.Decode == nil {
		on := true
		codec.Decode = &on
	}
	c.Codec = &codec
	return c
}
