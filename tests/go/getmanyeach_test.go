package gotests

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/shard"
)

// collect runs a GetManyEach-shaped call and returns what it handed over,
// aligned with n keys (nil = no call), failing on an index out of order.
func collect(t *testing.T, n int, call func(each func(i int, v []byte)) error) [][]byte {
	t.Helper()
	got := make([][]byte, n)
	last := -1
	require.NoError(t, call(func(i int, v []byte) {
		assert.Greater(t, i, last, "indexes in key order, each once")
		last = i
		got[i] = append([]byte{}, v...)
	}))
	return got
}

func manyKeys(n int) ([]string, [][]byte) {
	keys := make([]string, n)
	vals := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Sprintf(":1:each%d", i)
		if i%5 != 4 { // every fifth key stays missing
			vals[i] = bytes.Repeat([]byte{byte('a' + i%26)}, i*37)
		}
	}
	return keys, vals
}

func TestClientGetManyEachHandsOverWhatGetManyReturns(t *testing.T) {
	s := startRedis(t)
	c := newClient(t, client.Options{Addr: s.Addr})
	keys, vals := manyKeys(120)
	for i, k := range keys {
		if vals[i] != nil {
			_, err := c.Set(ctx, k, vals[i], 0, false)
			require.NoError(t, err)
		}
	}
	want, err := c.GetMany(ctx, keys)
	require.NoError(t, err)
	before := c.Stats()
	got := collect(t, len(keys), func(each func(int, []byte)) error { return c.GetManyEach(ctx, keys, each) })
	assert.Equal(t, want, got)
	after := c.Stats()
	assert.Equal(t, before.Hits+96, after.Hits, "hits counted as GetMany counts them")
	assert.Equal(t, before.Misses+24, after.Misses)
	assert.Equal(t, before.Calls["get_many"]+1, after.Calls["get_many"])
	require.NoError(t, c.GetManyEach(ctx, nil, func(int, []byte) { t.Error("called for no keys") }))
}

func TestShardGetManyEachOverOneAndSeveralServers(t *testing.T) {
	servers := []*redisServer{startRedis(t), startRedis(t), startRedis(t)}
	for k, mode := range []shard.Mode{shard.Ring, shard.Copy, shard.Ring} {
		use := servers
		if k == 2 {
			use = servers[:1] // one server: the reply read straight from the connection
		}
		c := newShard(t, shard.Options{Servers: serverOpts(use...), Mode: mode})
		_, err := c.Clear(ctx, "")
		require.NoError(t, err)
		keys, vals := manyKeys(60)
		for i, k := range keys {
			if vals[i] != nil {
				_, err := c.Set(ctx, k, vals[i], 0, false)
				require.NoError(t, err)
			}
		}
		got := collect(t, len(keys), func(each func(int, []byte)) error { return c.GetManyEach(ctx, keys, each) })
		assert.Equal(t, vals, got, "mode %v", mode)
	}
}
