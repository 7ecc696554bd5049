package client

import (
	"crypto/tls"
	"runtime"
	"strconv"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/stats"
)

// Options configures a Client for one Redis server. The zero value of every
// field means "use the default"; defaults are applied in one place, by
// Options.withDefaults, and each field's comment names its default.
type Options struct {
	// Network is "tcp" or "unix". Default: "tcp", or "unix" when Addr
	// starts with "/".
	Network string
	// Addr is "host:port" for TCP or a socket path for unix.
	// Default: "127.0.0.1:6379".
	Addr string
	// DB is the Redis database number selected on every new connection.
	// Default: 0.
	DB int
	// Username is the ACL user sent with AUTH. Default: none.
	Username string
	// Password is sent with AUTH when non-empty. It never appears in an
	// error message or String(). Default: none.
	Password string
	// TLS enables TLS with this configuration when non-nil. Default: plain TCP.
	TLS *tls.Config

	// DialTimeout bounds establishing a connection (TCP connect, TLS
	// handshake, AUTH, SELECT). Default: 5s.
	DialTimeout time.Duration
	// ReadTimeout bounds waiting for each reply. Default: 5s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing each command. Default: ReadTimeout.
	WriteTimeout time.Duration

	// PoolSize is the maximum number of connections. Default: 10 per CPU
	// (runtime.GOMAXPROCS), at least 16.
	PoolSize int
	// PoolTimeout bounds waiting for a free connection when all PoolSize
	// connections are busy. Default: ReadTimeout + 1s.
	PoolTimeout time.Duration
	// ConnMaxIdleTime closes connections idle for longer than this.
	// Default: 5 minutes.
	ConnMaxIdleTime time.Duration

	// Topology, when set, makes this Client talk to a Redis Cluster or to
	// the primary a set of Sentinels names, instead of the one server at
	// Addr (see Topology). Default: nil, one server.
	Topology *Topology
	// BreakerFailures is the number of consecutive connection or timeout
	// failures after which calls fail at once for BreakerCooldown (see
	// core/breaker). Failures are counted per command, including a new
	// connection's AUTH/SELECT. Default: 5. Negative: no circuit breaker.
	BreakerFailures int
	// BreakerCooldown is how long an open circuit breaker fails calls
	// before letting them try the server again. Default: 1s.
	BreakerCooldown time.Duration

	// ScanCount is the COUNT hint for SCAN and the batch size of UNLINK in
	// Clear. Default: 1000.
	ScanCount int

	// Stats receives the Client's counters (see core/stats and
	// Client.Recorder); several Clients may share one, e.g. every handle of
	// one configuration in a process. Default: a new stats.Server.
	Stats *stats.Server
}

// Default values, applied by withDefaults.
const (
	defaultAddr            = "127.0.0.1:6379"
	defaultDialTimeout     = 5 * time.Second
	defaultReadTimeout     = 5 * time.Second
	defaultConnMaxIdleTime = 5 * time.Minute
	defaultScanCount       = 1000
	minPoolSize            = 16
)

// withDefaults returns a copy of o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = defaultAddr
	}
	if o.Network == "" {
		o.Network = "tcp"
		if len(o.Addr) > 0 && o.Addr[0] == '/' {
			o.Network = "unix"
		}
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = defaultDialTimeout
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = defaultReadTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = o.ReadTimeout
	}
	if o.PoolSize <= 0 {
		o.PoolSize = max(10*runtime.GOMAXPROCS(0), minPoolSize)
	}
	if o.PoolTimeout <= 0 {
		o.PoolTimeout = o.ReadTimeout + time.Second
	}
	if o.ConnMaxIdleTime <= 0 {
		o.ConnMaxIdleTime = defaultConnMaxIdleTime
	}
	if o.ScanCount <= 0 {
		o.ScanCount = defaultScanCount
	}
	if o.Stats == nil {
		o.Stats = new(stats.Server)
	}
	return o
}

// String describes the server without credentials, for messages and logs:
// "redis 127.0.0.1:6379 db 1" or "redis unix:/tmp/redis.sock db 0".
func (o Options) String() string {
	o = o.withDefaults()
	if o.Topology != nil {
		return o.Topology.String(o.DB)
	}
	addr := o.Addr
	if o.Network == "unix" {
		addr = "unix:" + addr
	}
	scheme := "redis"
	if o.TLS != nil {
		scheme = "rediss"
	}
	return scheme + " " + addr + " db " + strconv.Itoa(o.DB)
}
