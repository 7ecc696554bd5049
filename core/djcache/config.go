package djcache

import (
	"fmt"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/cache"
	"github.com/redis-cache-go/redis-cache-go/core/shard"
)

// config is the core/cache configuration opts describe (their defaults
// applied here): the document the Python package builds from the same
// settings. It reads opts before the defaults where they differ from an
// explicit value: an empty non-nil Location is an error (nil is the
// default), and a cluster LOCATION refuses an explicit DB other than 0.
func config(opts Options) (cache.Config, error) {
	o := opts.withDefaults()
	if opts.Location != nil && len(opts.Location) == 0 {
		o.Location = opts.Location // parseLocation refuses it, as Django does
	}
	if *o.DB < 0 || *o.DB > MaxDB {
		return cache.Config{}, fmt.Errorf("djcache: Options.DB = %d: must be an integer from 0 to %d", *o.DB, MaxDB)
	}
	loc, err := parseLocation(o.Location, *o.DB, o.Password)
	if err != nil {
		return cache.Config{}, err
	}
	if loc.cluster {
		// redis+cluster:// entries: one Redis Cluster whose seed nodes they
		// are, as OPTIONS["CLUSTER"] says (database 0 only).
		if opts.DB != nil && *opts.DB != 0 {
			return cache.Config{}, fmt.Errorf("djcache: Options.DB = %d: a Redis Cluster has only database 0", *opts.DB)
		}
		if len(o.Sentinels) > 0 {
			return cache.Config{}, fmt.Errorf("djcache: Sentinels cannot be combined with a Redis Cluster")
		}
		o.Cluster, o.Weights = true, nil
	}
	cfg := cache.Config{
		ConnectTimeout:  seconds(o.ConnectTimeout),
		SocketTimeout:   seconds(o.SocketTimeout),
		MaxConnections:  o.MaxConnections,
		BreakerFailures: o.CircuitBreakerFailures,
		BreakerCooldown: seconds(o.CircuitBreakerCooldown),
		Codec:           &cache.Codec{Compressor: o.Compressor.String(), Level: o.CompressorLevel, MinLen: o.CompressMinLen},
		Mode:            o.Mode.String(),
		HashRing:        string(o.HashRing),
		Primary:         o.Primary,
	}
	if len(o.Weights) != 0 && len(o.Weights) != len(o.Location) {
		return cache.Config{}, fmt.Errorf("djcache: %d Weights for %d Location entries", len(o.Weights), len(o.Location))
	}
	for i, s := range loc.servers {
		entry := o.Location[i]
		e := cache.Endpoint{Network: s.opts.Network, Addr: s.opts.Addr, DB: s.opts.DB, Username: s.opts.Username, Password: s.opts.Password}
		if t := s.opts.TLS; t != nil {
			e.TLS = &cache.TLS{ServerName: t.ServerName}
			if t.InsecureSkipVerify {
				e.TLS.CertReqs = "none"
			}
		}
		if o.HashRing == shard.DjangoRedisRing && !loc.cluster {
			s.name = entry // django-redis names a node by its LOCATION entry as written
		}
		weight := 1
		if len(o.Weights) != 0 {
			weight = o.Weights[i]
		}
		cfg.Servers = append(cfg.Servers, cache.Server{Endpoint: e, Name: s.name, Weight: weight,
			ConnectTimeout: seconds(s.opts.DialTimeout), SocketTimeout: seconds(s.opts.ReadTimeout)})
	}
	if err := topology(o, &cfg); err != nil {
		return cache.Config{}, err
	}
	if cfg.Protection, err = protection(o); err != nil {
		return cache.Config{}, err
	}
	if cfg.Protection != nil {
		cfg.OnReject = o.OnReject
	}
	if lc := o.LocalCache; lc != nil {
		cfg.LocalCache = &cache.LocalCache{MaxEntries: lc.MaxEntries, MaxBytes: lc.MaxBytes, TTL: seconds(lc.TTL), Prefix: trackedPrefix(o)}
	}
	return cfg, nil
}

// topology makes cfg a Redis Cluster or a Sentinel deployment when o says
// so, as the Python package does: one entry (the first Location entry)
// whose address go-redis replaces.
func topology(o Options, cfg *cache.Config) error {
	t := &cache.Topology{ReadFromReplicas: o.ReadFromReplicas}
	switch {
	case o.Cluster && len(o.Sentinels) > 0:
		return fmt.Errorf("djcache: Sentinels cannot be combined with a Redis Cluster")
	case o.Cluster:
		t.Kind = "cluster"
		for _, s := range cfg.Servers {
			if s.Network == "unix" {
				return fmt.Errorf("djcache: a cluster node needs host:port, not %s", s.Addr)
			}
			t.Addrs = append(t.Addrs, s.Addr)
		}
	case len(o.Sentinels) > 0:
		t.Kind, t.Addrs, t.Service, t.SentinelPassword = "sentinel", o.Sentinels, o.SentinelService, o.SentinelPassword
	case o.SentinelService != "" || o.SentinelPassword != "":
		return fmt.Errorf("djcache: SentinelService and SentinelPassword need Sentinels")
	case o.ReadFromReplicas:
		return fmt.Errorf("djcache: ReadFromReplicas needs Cluster or Sentinels")
	default:
		return nil
	}
	first := cfg.Servers[0]
	cfg.Endpoint, cfg.Servers, cfg.Topology = first.Endpoint, nil, t
	return nil
}

// trackedPrefix is the key space the near-cache tracks: the common start
// of two keys made with different keys and versions ("site:" for Django's
// key function), as the Python package computes it; "" tracks every key.
func trackedPrefix(o Options) string {
	a, b := o.KeyFunc("\x00a", o.KeyPrefix, 1), o.KeyFunc("\x00b", o.KeyPrefix, 2)
	n := 0
	for n < min(len(a), len(b)) && a[n] == b[n] {
		n++
	}
	return a[:n]
}

func seconds(d time.Duration) cache.Seconds { return cache.Seconds(d.Seconds()) }
