package gotests

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/expiry"
)

// clusterPort is a free port whose cluster bus port (+10000) is free too.
func clusterPort(t *testing.T) int {
	t.Helper()
	for {
		port := freePort(t)
		if port+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000))
		if err != nil {
			continue
		}
		l.Close()
		return port
	}
}

// twoNodeCluster starts a Redis Cluster of two primaries on loopback: the
// first serves slots 0-8191, the second 8192-16383. It returns once both
// agree that every slot is served.
func twoNodeCluster(t *testing.T) (a, b *redisServer) {
	t.Helper()
	start := func() *redisServer {
		return startRedisOn(t, clusterPort(t), "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "1000")
	}
	a, b = start(), start()
	require.Equal(t, "+OK", a.do(t, "CLUSTER", "ADDSLOTSRANGE", "0", "8191"))
	require.Equal(t, "+OK", b.do(t, "CLUSTER", "ADDSLOTSRANGE", "8192", "16383"))
	_, port, _ := net.SplitHostPort(b.Addr)
	require.Equal(t, "+OK", a.do(t, "CLUSTER", "MEET", "127.0.0.1", port))
	deadline := time.Now().Add(60 * time.Second)
	for {
		ready := true
		for _, n := range []*redisServer{a, b} {
			info := n.do(t, "CLUSTER", "INFO")
			ready = ready && strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, "cluster_slots_assigned:16384") && strings.Contains(info, "cluster_known_nodes:2")
		}
		if ready {
			return a, b
		}
		require.True(t, time.Now().Before(deadline), "the two-node cluster did not converge")
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterRenameDuringSlotMigration: incr_version of a key whose two
// versions share a hash slot (a hash tag) while that slot is being
// migrated, with the key still on the migrating node or already on the
// importing one. RENAME is refused with TRYAGAIN there; Rename copies
// instead, keeping the value and the TTL.
func TestClusterRenameDuringSlotMigration(t *testing.T) {
	a, b := twoNodeCluster(t)
	c := newClient(t, client.Options{Topology: &client.Topology{Cluster: true, Addrs: []string{a.Addr}}})

	slot, err := strconv.Atoi(strings.TrimPrefix(a.do(t, "CLUSTER", "KEYSLOT", "{tag}"), ":"))
	require.NoError(t, err)
	src, dst := a, b
	if slot > 8191 {
		src, dst = b, a
	}
	srcID, dstID := src.do(t, "CLUSTER", "MYID"), dst.do(t, "CLUSTER", "MYID")
	for _, k := range []string{"{tag}:1:kept", "{tag}:1:moved"} {
		_, err := c.Set(ctx, k, []byte("value of "+k), expiry.Of(time.Hour), false)
		require.NoError(t, err)
	}

	s := strconv.Itoa(slot)
	require.Equal(t, "+OK", dst.do(t, "CLUSTER", "SETSLOT", s, "IMPORTING", srcID))
	require.Equal(t, "+OK", src.do(t, "CLUSTER", "SETSLOT", s, "MIGRATING", dstID))
	_, dstPort, _ := net.SplitHostPort(dst.Addr)
	require.Equal(t, "+OK", src.do(t, "MIGRATE", "127.0.0.1", dstPort, "", "0", "5000", "KEYS", "{tag}:1:moved"))
	require.Contains(t, src.do(t, "RENAME", "{tag}:1:kept", "{tag}:2:kept"), "TRYAGAIN", "the server refuses RENAME here")

	for _, name := range []string{"kept", "moved"} {
		found, err := c.Rename(ctx, "{tag}:1:"+name, "{tag}:2:"+name)
		require.NoError(t, err, name)
		assert.True(t, found, name)
		v, ttl, found, err := c.GetTTL(ctx, "{tag}:2:"+name)
		require.NoError(t, err)
		assert.True(t, found, name)
		assert.Equal(t, "value of {tag}:1:"+name, string(v))
		assert.True(t, ttl > 50*time.Minute && ttl <= time.Hour, "TTL kept: %v", ttl)
		_, found, err = c.Get(ctx, "{tag}:1:"+name)
		require.NoError(t, err)
		assert.False(t, found, "the old version is gone")
	}
	found, err := c.Rename(ctx, "{tag}:1:missing", "{tag}:2:missing")
	require.NoError(t, err)
	assert.False(t, found, "a missing key is reported missing, not an error")

	// New keys of a migrating slot go to the importing node (ASK), old ones
	// were deleted where they were: the migrating node holds none of the slot.
	assert.Equal(t, ":0", src.do(t, "CLUSTER", "COUNTKEYSINSLOT", s))
	assert.Equal(t, ":2", dst.do(t, "CLUSTER", "COUNTKEYSINSLOT", s))
	require.Equal(t, "+OK", dst.do(t, "CLUSTER", "SETSLOT", s, "NODE", dstID))
	require.Equal(t, "+OK", src.do(t, "CLUSTER", "SETSLOT", s, "NODE", dstID))
	for _, name := range []string{"kept", "moved"} {
		v, found, err := c.Get(ctx, "{tag}:2:"+name)
		require.NoError(t, err)
		assert.True(t, found, name)
		assert.Equal(t, "value of {tag}:1:"+name, string(v))
	}
}
