package main

import (
	"fmt"

	"github.com/redis-cache-go/redis-cache-go/core/client"

	"github.com/redis-cache-go/redis-cache-go/core/shard"
)

// serverConfig is one entry of the document's "servers" list.
type serverConfig struct {
	Network  string     `json:"network"`
	Addr     string     `json:"addr"`
	DB       int        `json:"db"`
	Username string     `json:"username"`
	Password string     `json:"password"`
	TLS      *tlsConfig `json:"tls"`
	// Name is the ring's node name: for the seed ring Python's repr of the
	// server's identifier tuple, for the django-redis ring the LOCATION
	// entry as written; computed by the Python package. "" = derived from
	// addr and db (shard.Options.Names).
	Name string `json:"name"`
	// Weight is the ring weight (>= 1); 0 means 1.
	Weight int `json:"weight"`
}

// parseDocument reads the whole configuration document: one server (the
// top-level fields) or a "servers" list with a layout.
func parseDocument(doc []byte) (shard.Options, error) {
	c, err := decodeConfig(doc)
	if err != nil {
		return shard.Options{}, err
	}
	if len(c.Servers) == 0 {
		o, err := c.options()
		if err != nil {
			return shard.Options{}, err
		}
		return shard.Options{Servers: []client.Options{o}}, nil
	}
	var opts shard.Options
	switch c.Mode {
	case "", "ring":
		opts.Mode = shard.Ring
	case "copy":
		opts.Mode = shard.Copy
	case "primary":
		opts.Mode = shard.Primary
	default:
		return shard.Options{}, fmt.Errorf("mode must be ring, copy or primary, not %q", c.Mode)
	}
	switch c.HashRing {
	case "", "seed":
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
		one := c
		one.Servers = nil
		one.Network, one.Addr, one.DB, one.Username, one.Password, one.TLS = s.Network, s.Addr, s.DB, s.Username, s.Password, s.TLS
		o, err := one.options()
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
