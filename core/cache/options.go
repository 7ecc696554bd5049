package cache

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/codec"
	"github.com/redis-cache-go/redis-cache-go/core/nearcache"
	"github.com/redis-cache-go/redis-cache-go/core/shard"
)

// ShardOptions validates c's servers and layout and returns what core/shard
// takes: one server (the top-level Endpoint) or the Servers list. Open uses
// it; it is exported for callers that show or reuse the resolved servers.
func (c Config) ShardOptions() (shard.Options, error) { return c.withDefaults().shardOptions() }

// shardOptions is ShardOptions of a Config that has its defaults.
func (c Config) shardOptions() (shard.Options, error) {
	if len(c.Servers) == 0 {
		o, err := c.clientOptions(Server{Endpoint: c.Endpoint})
		if err != nil {
			return shard.Options{}, err
		}
		return shard.Options{Servers: []client.Options{o}}, nil
	}
	var opts shard.Options
	switch c.Mode {
	case "ring":
		opts.Mode = shard.Ring
	case "copy":
		opts.Mode = shard.Copy
	case "primary":
		opts.Mode = shard.Primary
	default:
		return shard.Options{}, fmt.Errorf("mode must be ring, copy or primary, not %q", c.Mode)
	}
	switch c.HashRing {
	case "seed":
		opts.HashRing = shard.SeedRing
	case "kidoredis":
		opts.HashRing = shard.KidoredisRing
	case "django-redis":
		opts.HashRing = shard.DjangoRedisRing
	default:
		return shard.Options{}, fmt.Errorf("hash_ring must be seed, kidoredis or django-redis, not %q", c.HashRing)
	}
	if c.Primary < 0 || c.Primary >= len(c.Servers) {
		return shard.Options{}, fmt.Errorf("primary %d is not an index into the %d servers", c.Primary, len(c.Servers))
	}
	opts.Primary = c.Primary
	named, weighted := false, false
	for _, s := range c.Servers {
		named = named || s.Name != ""
		weighted = weighted || (s.Weight != 0 && s.Weight != 1)
	}
	for i, s := range c.Servers {
		o, err := c.clientOptions(s)
		if err != nil {
			return shard.Options{}, fmt.Errorf("server %d: %w", i, err)
		}
		opts.Servers = append(opts.Servers, o)
		if s.Weight < 0 {
			return shard.Options{}, fmt.Errorf("server %d: weight must be >= 1, not %d", i, s.Weight)
		}
		if named {
			if s.Name == "" {
				return shard.Options{}, fmt.Errorf("server %d: name missing (give every server a name or none)", i)
			}
			opts.Names = append(opts.Names, s.Name)
		}
		if weighted {
			opts.Weights = append(opts.Weights, max(s.Weight, 1))
		}
	}
	return opts, nil
}

// clientOptions validates one server with c's shared settings and returns
// its client.Options.
func (c Config) clientOptions(s Server) (client.Options, error) {
	e := s.Endpoint
	if s.ConnectTimeout != 0 {
		c.ConnectTimeout = s.ConnectTimeout
	}
	if s.SocketTimeout != 0 {
		c.SocketTimeout = s.SocketTimeout
	}
	if e.Network != "" && e.Network != "tcp" && e.Network != "unix" {
		return client.Options{}, fmt.Errorf("network must be tcp or unix, not %q", e.Network)
	}
	if e.DB < 0 {
		return client.Options{}, fmt.Errorf("db must be >= 0, not %d", e.DB)
	}
	for _, d := range []struct {
		name string
		v    Seconds
	}{{"connect_timeout", c.ConnectTimeout}, {"socket_timeout", c.SocketTimeout}, {"pool_timeout", c.PoolTimeout}, {"breaker_cooldown", c.BreakerCooldown}} {
		if d.v < 0 {
			return client.Options{}, fmt.Errorf("%s must be >= 0, not %v", d.name, float64(d.v))
		}
	}
	if c.MaxConnections < 0 {
		return client.Options{}, fmt.Errorf("max_connections must be >= 0, not %d", c.MaxConnections)
	}
	opts := client.Options{
		Network:     e.Network,
		Addr:        e.Addr,
		DB:          e.DB,
		Username:    e.Username,
		Password:    e.Password,
		DialTimeout: c.ConnectTimeout.Duration(),
		ReadTimeout: c.SocketTimeout.Duration(),
		PoolSize:    c.MaxConnections,
		PoolTimeout: c.PoolTimeout.Duration(),

		BreakerFailures: c.BreakerFailures,
		BreakerCooldown: c.BreakerCooldown.Duration(),
	}
	if c.Topology != nil {
		t, err := c.Topology.build(e.DB)
		if err != nil {
			return client.Options{}, err
		}
		opts.Topology = t
	}
	if e.TLS != nil {
		t, err := e.TLS.build()
		if err != nil {
			return client.Options{}, err
		}
		opts.TLS = t
	}
	return opts, nil
}

func (t *Topology) build(db int) (*client.Topology, error) {
	if len(t.Addrs) == 0 {
		return nil, fmt.Errorf("topology %q needs at least one address", t.Kind)
	}
	out := &client.Topology{Addrs: t.Addrs, SentinelPassword: t.SentinelPassword, ReadFromReplicas: t.ReadFromReplicas}
	switch t.Kind {
	case "cluster":
		if db != 0 {
			return nil, fmt.Errorf("a Redis Cluster has only db 0, not %d", db)
		}
		out.Cluster = true
	case "sentinel":
		if t.Service == "" {
			return nil, fmt.Errorf("a Sentinel topology needs a service (master) name")
		}
		out.Service = t.Service
	default:
		return nil, fmt.Errorf("topology kind must be cluster or sentinel, not %q", t.Kind)
	}
	return out, nil
}

func (t *TLS) build() (*tls.Config, error) {
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

// values returns the value codec policy c describes (c has its defaults).
func (c *Codec) values() (*values, error) {
	f, err := codec.ParseFormat(c.Compressor)
	if err != nil {
		return nil, err
	}
	cd, err := codec.New(codec.Options{Format: f, Level: c.Level, MinLen: c.MinLen, MaxRatio: c.MaxRatio})
	if err != nil {
		return nil, err
	}
	return &values{codec: cd, decode: *c.Decode}, nil
}

// near returns the near-cache lc asks for on the servers of opts, or nil;
// for a Redis Cluster also the template of its nodes' tracking connections
// (the nodes themselves are discovered, see nearCluster).
func (lc *LocalCache) near(opts shard.Options) (*nearcache.Cache, *nearCluster, error) {
	if lc == nil {
		return nil, nil, nil
	}
	if lc.MaxEntries < 0 || lc.MaxBytes < 0 || lc.TTL < 0 {
		return nil, nil, fmt.Errorf("local_cache max_entries, max_bytes and ttl must be >= 0")
	}
	o := nearcache.Options{
		MaxEntries: lc.MaxEntries,
		MaxBytes:   lc.MaxBytes,
		TTL:        lc.TTL.Duration(),
		Prefix:     lc.Prefix,
	}
	var nc *nearCluster
	for i, s := range opts.Servers {
		srv := nearcache.Server{
			ID:          strconv.Itoa(i),
			Network:     s.Network,
			Addr:        s.Addr,
			Username:    s.Username,
			Password:    s.Password,
			TLS:         s.TLS,
			DialTimeout: s.DialTimeout,
			ReadTimeout: s.ReadTimeout,
		}
		if s.Topology == nil {
			if opts.Mode != shard.Primary || i == opts.Primary { // see shard.Cache.ReadServer
				o.Servers = append(o.Servers, srv)
			}
			continue
		}
		if !s.Topology.Cluster || len(opts.Servers) != 1 {
			return nil, nil, errors.New("local_cache works with one server, a ring, copy or primary/replica layout, or a Redis Cluster; not behind Sentinel")
		}
		srv.ID, srv.Addr, srv.Network = "", "", "tcp"
		nc = &nearCluster{template: srv}
		for _, a := range s.Topology.Addrs { // the seeds until the primaries are known
			seed := srv
			seed.ID, seed.Addr = a, a
			o.Servers = append(o.Servers, seed)
		}
	}
	return nearcache.New(o), nc, nil
}
