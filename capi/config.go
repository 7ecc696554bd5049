package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/client"
)

// config is the JSON document rcg_open receives, built by the Python
// package from Django's CACHES entry. Unknown fields are an error, so a
// typo on either side cannot pass silently. Durations are seconds; 0 means
// the client default.
type config struct {
	Network        string     `json:"network"` // "tcp" or "unix"
	Addr           string     `json:"addr"`    // host:port or socket path
	DB             int        `json:"db"`
	Username       string     `json:"username"`
	Password       string     `json:"password"`
	TLS            *tlsConfig `json:"tls"` // null: plain connection
	ConnectTimeout float64    `json:"connect_timeout"`
	SocketTimeout  float64    `json:"socket_timeout"`
	MaxConnections int        `json:"max_connections"`
	PoolTimeout    float64    `json:"pool_timeout"`
	// The circuit breaker (core/breaker): consecutive connection/timeout
	// failures that open it (0: default 5, negative: disabled) and its
	// cool-down in seconds (0: default 1).
	BreakerFailures int     `json:"breaker_failures"`
	BreakerCooldown float64 `json:"breaker_cooldown"`
	// Codec is how values are compressed and decoded (capi/codec.go).
	Codec json.RawMessage `json:"codec"`
	// GoMaxProcs sets runtime.GOMAXPROCS when > 0 (the Go runtime does not
	// see environment changes made after it started).
	GoMaxProcs int `json:"gomaxprocs"`
	// Several servers: when Servers is non-empty the fields above that name
	// one server (network … tls) are ignored and each entry names its own;
	// timeouts and pool settings apply to every server. See layout.go.
	Servers  []serverConfig `json:"servers"`
	Mode     string         `json:"mode"`      // "ring" (default), "copy" or "primary"
	HashRing string         `json:"hash_ring"` // "seed" (default), "kidoredis" or "django-redis"
	Primary  int            `json:"primary"`   // index of the primary in mode "primary"
	// Topology, when set, names a Redis Cluster or a Sentinel-watched
	// primary; addr is then ignored (see topology.go).
	Topology *topologyConfig `json:"topology"`
	// LocalCache, when set, turns on the near-cache (capi/near.go); one
	// server only.
	LocalCache *localCacheConfig `json:"local_cache"`
}

type tlsConfig struct {
	CAFile     string `json:"ca_file"`
	CertFile   string `json:"cert_file"`
	KeyFile    string `json:"key_file"`
	CertReqs   string `json:"cert_reqs"` // "required" (default), "optional", "none"
	ServerName string `json:"server_name"`
}

func parseConfig(doc []byte) (client.Options, error) {
	c, err := decodeConfig(doc)
	if err != nil {
		return client.Options{}, err
	}
	return c.options()
}

func decodeConfig(doc []byte) (config, error) {
	var c config
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return config{}, fmt.Errorf("invalid configuration document: %w", err)
	}
	return c, nil
}

// options validates the one-server part of c and builds its client.Options.
func (c config) options() (client.Options, error) {
	if c.Network != "" && c.Network != "tcp" && c.Network != "unix" {
		return client.Options{}, fmt.Errorf("network must be tcp or unix, not %q", c.Network)
	}
	if c.DB < 0 {
		return client.Options{}, fmt.Errorf("db must be >= 0, not %d", c.DB)
	}
	for name, v := range map[string]float64{"connect_timeout": c.ConnectTimeout, "socket_timeout": c.SocketTimeout, "pool_timeout": c.PoolTimeout, "breaker_cooldown": c.BreakerCooldown} {
		if v < 0 {
			return client.Options{}, fmt.Errorf("%s must be >= 0, not %v", name, v)
		}
	}
	if c.MaxConnections < 0 {
		return client.Options{}, fmt.Errorf("max_connections must be >= 0, not %d", c.MaxConnections)
	}
	if c.GoMaxProcs > 0 {
		runtime.GOMAXPROCS(c.GoMaxProcs)
	}
	opts := client.Options{
		Network:     c.Network,
		Addr:        c.Addr,
		DB:          c.DB,
		Username:    c.Username,
		Password:    c.Password,
		DialTimeout: seconds(c.ConnectTimeout),
		ReadTimeout: seconds(c.SocketTimeout),
		PoolSize:    c.MaxConnections,
		PoolTimeout: seconds(c.PoolTimeout),

		BreakerFailures: c.BreakerFailures,
		BreakerCooldown: seconds(c.BreakerCooldown),
	}
	if c.Topology != nil {
		t, err := c.Topology.build(c.DB)
		if err != nil {
			return client.Options{}, err
		}
		opts.Topology = t
	}
	if c.TLS != nil {
		t, err := c.TLS.build(c.Addr)
		if err != nil {
			return client.Options{}, err
		}
		opts.TLS = t
	}
	return opts, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func (t *tlsConfig) build(addr string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	switch t.CertReqs {
	case "", "required", "optional":
	case "none":
		cfg.InsecureSkipVerify = true
	default:
		return nil, fmt.Errorf("tls cert_reqs must be none, optional or required, not %q", t.CertReqs)
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca_file %s holds no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, fmt.Errorf("tls cert_file and key_file must be given together")
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
