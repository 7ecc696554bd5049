package client

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/redis/go-redis/v9"
)

// sentinelShard is a Sentinel-watched primary and its replicas seen as a
// one-shard ClusterClient, so read-only commands spread over the nodes
// (READ_FROM_REPLICAS). go-redis' NewFailoverClusterClient does the same
// but keeps its Sentinel connection and subscription out of reach: its
// Close leaves three goroutines and a connection behind per client. Here
// the Sentinel clients are ours and Close closes them too.
type sentinelShard struct {
	*redis.ClusterClient
	sentinels []*redis.SentinelClient
}

// Close closes the node connections and the Sentinel connections.
func (s *sentinelShard) Close() error {
	err := s.ClusterClient.Close()
	for _, sc := range s.sentinels {
		if e := sc.Close(); err == nil {
			err = e
		}
	}
	return err
}

// newSentinelShard builds the one-shard client of t (ReadFromReplicas);
// the slot map is the primary and the live replicas the first answering
// Sentinel reports, reloaded after failures (Client.reload) and every
// replicaMapRefresh.
func newSentinelShard(o Options, t *Topology) *sentinelShard {
	s := &sentinelShard{}
	for _, addr := range t.Addrs {
		s.sentinels = append(s.sentinels, sentinelClient(o, t, addr))
	}
	co := clusterOptions(o)
	co.ClusterSlots = func(ctx context.Context) ([]redis.ClusterSlot, error) {
		slots, err := s.slots(ctx, t.Service)
		if err != nil {
			return nil, unknownService(ctx, o, t, s.sentinels, err)
		}
		return slots, nil
	}
	if db := o.DB; db != 0 {
		co.OnConnect = func(ctx context.Context, cn *redis.Conn) error { return cn.Select(ctx, db).Err() }
	}
	co.DialerRetries = 1
	co.MaxRedirects = -1
	co.RouteRandomly = true
	co.ClusterStateReloadInterval = replicaMapRefresh // replicas back up are seen (topology.go)
	s.ClusterClient = redis.NewClusterClient(co)
	return s
}

// slots asks the Sentinels in order for service's primary and its live
// replicas; the first that answers decides.
func (s *sentinelShard) slots(ctx context.Context, service string) ([]redis.ClusterSlot, error) {
	var errs []error
	for _, sc := range s.sentinels {
		primary, err := sc.GetMasterAddrByName(ctx, service).Result()
		if err == nil && len(primary) != 2 {
			err = errors.New("unexpected SENTINEL GET-MASTER-ADDR-BY-NAME reply")
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		nodes := []redis.ClusterNode{{Addr: net.JoinHostPort(primary[0], primary[1])}}
		replicas, err := sc.Replicas(ctx, service).Result()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range replicas {
			if r["ip"] != "" && r["port"] != "" && !down(r["flags"]) {
				nodes = append(nodes, redis.ClusterNode{Addr: net.JoinHostPort(r["ip"], r["port"])})
			}
		}
		return []redis.ClusterSlot{{Start: 0, End: 16383, Nodes: nodes}}, nil
	}
	return nil, errors.Join(errs...)
}

// down reports whether a Sentinel's flags mark a replica unusable.
func down(flags string) bool {
	for _, f := range strings.Split(flags, ",") {
		switch f {
		case "s_down", "o_down", "disconnected":
			return true
		}
	}
	return false
}
