package main

import (
	"fmt"

	"github.com/redis-cache-go/redis-cache-go/core/client"
)

// topologyConfig is the document's "topology" object: a Redis Cluster
// (kind "cluster", addrs = seed nodes) or a Sentinel deployment (kind
// "sentinel", addrs = the Sentinels, service = the master name).
type topologyConfig struct {
	Kind             string   `json:"kind"`
	Addrs            []string `json:"addrs"`
	Service          string   `json:"service"`
	SentinelPassword string   `json:"sentinel_password"`
	ReadFromReplicas bool     `json:"read_from_replicas"`
}

func (t *topologyConfig) build(db int) (*client.Topology, error) {
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
