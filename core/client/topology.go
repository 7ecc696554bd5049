package client

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Topology describes a deployment of several Redis nodes that go-redis
// routes to by itself: a Redis Cluster (ClusterClient: slots, MOVED/ASK
// redirects, topology refresh) or a primary watched by Sentinels
// (FailoverClient: asks the Sentinels for the current primary and follows
// a failover). Every cache operation of Client works on both; see
// cluster.go for how multi-key operations are split in a Cluster.
type Topology struct {
	// Cluster selects Redis Cluster: Addrs are seed nodes (any node of the
	// cluster; the rest is discovered). Options.DB must be 0.
	Cluster bool
	// Addrs are the cluster seed nodes, or the Sentinels' host:port
	// addresses when Cluster is false. At least one.
	Addrs []string
	// Service is the Sentinel master name (SENTINEL_SERVICE). Required
	// when Cluster is false.
	Service string
	// SentinelPassword authenticates to the Sentinels (not to the data
	// nodes, which use Options.Password). Default: none.
	SentinelPassword string
	// ReadFromReplicas sends read-only commands to replicas (randomly
	// among primary and replicas), accepting replication lag. Writes,
	// read-modify-write scripts and key walks always go to primaries.
	// The replicas are those of the client's slot map, which is then
	// reloaded every replicaMapRefresh. Default: false, everything on the
	// primary.
	ReadFromReplicas bool
}

// replicaMapRefresh is how old the slot map of a ReadFromReplicas client
// may get before the next command reloads it (in the background). A
// replica is in the map only once the deployment lists it: CLUSTER SLOTS
// leaves out a failed replica and one that has not synced yet (a new
// cluster's replicas for its first seconds), the Sentinels one flagged
// down. Nothing else tells a client that such a replica became usable: no
// command fails. With go-redis' default (a minute) a process that loaded
// its map at such a moment read from the primaries alone for that long.
// The cost is one CLUSTER SLOTS (or SENTINEL GET-MASTER-ADDR-BY-NAME and
// SENTINEL REPLICAS) per client per period of activity.
const replicaMapRefresh = 5 * time.Second

// String describes the deployment without credentials.
func (t *Topology) String(db int) string {
	if t.Cluster {
		return "redis cluster " + strings.Join(t.Addrs, ",")
	}
	return "redis sentinel " + t.Service + " via " + strings.Join(t.Addrs, ",") + " db " + strconv.Itoa(db)
}

// newTopology builds the Client of o.Topology (o has its defaults).
func newTopology(o Options) *Client {
	t := o.Topology
	c := &Client{name: o.String(), scanCount: o.ScanCount, stats: o.Stats}
	if t.Cluster {
		co := clusterOptions(o)
		co.Addrs = t.Addrs
		co.ReadOnly = t.ReadFromReplicas
		co.RouteRandomly = t.ReadFromReplicas
		if t.ReadFromReplicas {
			co.ClusterStateReloadInterval = replicaMapRefresh
		}
		// MOVED/ASK and a node that went away are retried (at most 3
		// redirects, go-redis' default), which is how a failover is
		// followed; so are network errors, except of a command that must
		// not run twice (finalHook on every node).
		co.MaxRedirects = 3
		cc := redis.NewClusterClient(co)
		cc.OnNewNode(func(node *redis.Client) { node.AddHook(finalHook{}) })
		c.rdb = cc
		c.rdb.AddHook(statsHook{c.stats})
		c.split, c.masters = true, true
		// go-redis follows MOVED by itself, but a primary that died answers
		// nothing; after such a failure the slot map is reloaded (lazily, in
		// the background) so the promoted replica is found.
		c.reload = func() { cc.ReloadState(context.Background()) }
		return c
	}
	if t.ReadFromReplicas {
		// One primary and its replicas seen as a one-shard cluster: reads
		// spread over the nodes, walks use ForEachMaster (the primary).
		shard := newSentinelShard(o, t)
		c.rdb = shard
		c.rdb.AddHook(statsHook{c.stats}) // first: the outermost hook
		c.rdb.AddHook(resendHook{maxUnsent: o.PoolSize})
		c.masters = true
		// a failover shows as failures on the old primary: reload the slot
		// map from the Sentinels (lazily, in the background).
		c.reload = func() { shard.ReloadState(context.Background()) }
		return c
	}
	fo := &redis.FailoverOptions{
		MasterName:       t.Service,
		SentinelAddrs:    t.Addrs,
		SentinelPassword: t.SentinelPassword,
		Username:         o.Username,
		Password:         o.Password,
		DB:               o.DB,
		TLSConfig:        o.TLS,
		Dialer:           guardedDialer(o.DialTimeout, o.TLS),
		DialTimeout:      o.DialTimeout,
		ReadTimeout:      o.ReadTimeout,
		WriteTimeout:     o.WriteTimeout,
		PoolSize:         o.PoolSize,
		PoolTimeout:      o.PoolTimeout,
		ConnMaxIdleTime:  o.ConnMaxIdleTime,
		MaxRetries:       -1,
		DialerRetries:    1,
		Protocol:         2,
		DisableIdentity:  true,
	}
	c.rdb = redis.NewFailoverClient(fo)
	c.rdb.AddHook(statsHook{c.stats}) // first: the outermost hook
	c.rdb.AddHook(resendHook{maxUnsent: o.PoolSize})
	c.rdb.AddHook(sentinelHook{o: o, t: t})
	return c
}

// clusterOptions are the node settings every ClusterClient here shares
// (Redis Cluster and the Sentinel one-shard client, sentinelshard.go):
// credentials, TLS, timeouts, pool, RESP2 without handshake extras.
func clusterOptions(o Options) *redis.ClusterOptions {
	return &redis.ClusterOptions{
		Username:                 o.Username,
		Password:                 o.Password,
		TLSConfig:                o.TLS,
		Dialer:                   guardedDialer(o.DialTimeout, o.TLS),
		DialTimeout:              o.DialTimeout,
		ReadTimeout:              o.ReadTimeout,
		WriteTimeout:             o.WriteTimeout,
		PoolSize:                 o.PoolSize,
		PoolTimeout:              o.PoolTimeout,
		ConnMaxIdleTime:          o.ConnMaxIdleTime,
		Protocol:                 2,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
}
