package gotests

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/expiry"
	"github.com/redis-cache-go/redis-cache-go/core/shard"
)

// stop kills the server now (the test's cleanup tolerates it).
func (s *redisServer) stop() {
	_ = s.cmd.Process.Kill()
	_, _ = s.cmd.Process.Wait()
}

// stat returns calls of one command from INFO commandstats (0 if never called).
func (s *redisServer) calls(t *testing.T, command string) int {
	t.Helper()
	info := s.do(t, "INFO", "commandstats")
	m := regexp.MustCompile(`(?m)^cmdstat_` + strings.ToLower(command) + `:calls=(\d+)`).FindStringSubmatch(info)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// waitFor polls cond until it holds (no fixed sleeps as synchronisation).
// The deadline only bounds a failing test, so it is generous.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newShard(t *testing.T, opts shard.Options) *shard.Cache {
	t.Helper()
	c, err := shard.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func serverOpts(servers ...*redisServer) []client.Options {
	out := make([]client.Options, len(servers))
	for i, s := range servers {
		out[i] = client.Options{Addr: s.Addr, DB: 0, ReadTimeout: time.Second, DialTimeout: time.Second}
	}
	return out
}

type seedCase struct {
	ID      string `json:"id"`
	Servers []struct {
		IdentifierRepr string `json:"identifier_repr"`
	} `json:"servers"`
	ExpectedIndex []int `json:"expected_index"`
}

func seedFixture(t *testing.T) (keys []string, cases map[string]seedCase) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "tests", "fixtures", "ring_seed.json"))
	require.NoError(t, err)
	var fx struct {
		Keys  []string   `json:"keys"`
		Cases []seedCase `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(data, &fx))
	cases = map[string]seedCase{}
	for _, c := range fx.Cases {
		cases[c.ID] = c
	}
	return fx.Keys, cases
}

// Bar 2: keys written through the ring land on the server the fixture names,
// read back with a plain connection; a 100-key GetMany is one MGET per server.
func TestShardRingPlacesKeysWhereTheSeedDid(t *testing.T) {
	servers := []*redisServer{startRedis(t), startRedis(t), startRedis(t)}
	keys, cases := seedFixture(t)
	fc := cases["a"] // three servers; their ring names come from the fixture
	names := make([]string, 3)
	for i, s := range fc.Servers {
		names[i] = s.IdentifierRepr
	}
	c := newShard(t, shard.Options{Servers: serverOpts(servers...), Mode: shard.Ring, Names: names})

	var batchKeys []string
	var batchVals [][]byte
	for i, k := range keys[:300] {
		if strings.ContainsAny(k, "\r\n") || k == "" {
			continue // the harness' plain reader is line based
		}
		if i%2 == 0 {
			_, err := c.Set(ctx, k, []byte("v"+strconv.Itoa(i)), 0, false)
			require.NoError(t, err)
		} else {
			batchKeys = append(batchKeys, k)
			batchVals = append(batchVals, []byte("v"+strconv.Itoa(i)))
		}
	}
	require.NoError(t, c.SetMany(ctx, batchKeys, batchVals, expiry.Of(time.Minute)))
	for i, k := range keys[:300] {
		if strings.ContainsAny(k, "\r\n") || k == "" {
			continue
		}
		want := fc.ExpectedIndex[i]
		for s, srv := range servers {
			got := srv.do(t, "GET", k)
			if s == want {
				assert.Equal(t, "v"+strconv.Itoa(i), got, "key %q missing on server %d", k, s)
			} else {
				assert.Equal(t, "$-1", got, "key %q found on server %d; the seed put it on %d", k, s, want)
			}
		}
	}

	batch := make([]string, 100)
	for i := range batch {
		batch[i] = ":1:key" + strconv.Itoa(i)
		_, err := c.Set(ctx, batch[i], []byte("x"), 0, false)
		require.NoError(t, err)
	}
	for _, s := range servers {
		s.do(t, "CONFIG", "RESETSTAT")
	}
	vals, err := c.GetMany(ctx, batch)
	require.NoError(t, err)
	for i, v := range vals {
		assert.Equal(t, []byte("x"), v, "key %s", batch[i])
	}
	involved := map[int]bool{}
	for _, k := range batch {
		involved[c.Locate(k)] = true
	}
	require.Len(t, involved, 3, "100 keys should involve all three servers")
	for i, s := range servers {
		assert.Equal(t, 1, s.calls(t, "mget"), "server %d: MGET calls for one GetMany", i)
		assert.Equal(t, 0, s.calls(t, "get"), "server %d: no per-key GET", i)
	}

	n, err := c.DeleteMany(ctx, batch)
	require.NoError(t, err)
	assert.EqualValues(t, 100, n)
	for i, s := range servers {
		assert.Equal(t, 1, s.calls(t, "del"), "server %d: one DEL for DeleteMany", i)
	}
}

func TestShardRingRenameAcrossServers(t *testing.T) {
	servers := []*redisServer{startRedis(t), startRedis(t), startRedis(t)}
	c := newShard(t, shard.Options{Servers: serverOpts(servers...)})
	// find two keys on different servers
	src, dst := "p:1:k", ""
	for i := 2; dst == ""; i++ {
		if k := "p:" + strconv.Itoa(i) + ":k"; c.Locate(k) != c.Locate(src) {
			dst = k
		}
	}
	_, err := c.Set(ctx, src, []byte("val"), expiry.Of(time.Minute), false)
	require.NoError(t, err)
	ok, err := c.Rename(ctx, src, dst)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "val", servers[c.Locate(dst)].do(t, "GET", dst))
	assert.Equal(t, "$-1", servers[c.Locate(src)].do(t, "GET", src))
	ttl, found, err := c.TTL(ctx, dst)
	require.NoError(t, err)
	assert.True(t, found)
	assert.Greater(t, ttl.Duration(), 50*time.Second, "the TTL moves with the value")
}

// Bar 4: copy mode writes everywhere; with a server stopped, reads succeed
// and writes report the failed server.
func TestShardCopyMode(t *testing.T) {
	servers := []*redisServer{startRedis(t), startRedis(t), startRedis(t)}
	c := newShard(t, shard.Options{Servers: serverOpts(servers...), Mode: shard.Copy})
	_, err := c.Set(ctx, "k", []byte("v"), 0, false)
	require.NoError(t, err)
	require.NoError(t, c.SetMany(ctx, []string{"a", "b"}, [][]byte{[]byte("1"), []byte("2")}, 0))
	for i, s := range servers {
		assert.Equal(t, "v", s.do(t, "GET", "k"), "server %d", i)
		assert.Equal(t, "2", s.do(t, "GET", "b"), "server %d", i)
	}
	replies, perServer, err := c.Do(ctx, "h", "HSET", "h", "f", "1")
	require.NoError(t, err)
	assert.True(t, perServer)
	require.Len(t, replies, 3)
	for _, r := range replies {
		assert.Equal(t, int64(1), r.Value)
	}

	servers[1].stop()
	for i := 0; i < 6; i++ { // every rotation start, including the dead server
		v, found, err := c.Get(ctx, "k")
		require.NoError(t, err, "read %d with one server stopped", i)
		assert.True(t, found)
		assert.Equal(t, []byte("v"), v)
	}
	_, err = c.Set(ctx, "k2", []byte("v2"), 0, false)
	require.Error(t, err)
	var se *shard.Error
	require.True(t, errors.As(err, &se), "got %T %v", err, err)
	assert.True(t, se.Partial())
	assert.Len(t, se.Failed, 1)
	assert.Contains(t, err.Error(), servers[1].Addr, "the error names the stopped server")
	assert.NotContains(t, err.Error(), servers[0].Addr)
	assert.Equal(t, client.KindConnection, client.KindOf(err))
	assert.Equal(t, "v2", servers[0].do(t, "GET", "k2"), "the live servers took the write")
	assert.Equal(t, "v2", servers[2].do(t, "GET", "k2"))
}

// Bar 3: a real replica (replicaof): writes land on the primary, reads are
// served by the replicas, and a killed replica does not fail reads.
func TestShardPrimaryReplica(t *testing.T) {
	primary := startRedis(t)
	port := strings.Split(primary.Addr, ":")[1]
	r1 := startRedis(t, "--replicaof", "127.0.0.1", port)
	r2 := startRedis(t, "--replicaof", "127.0.0.1", port)
	for _, r := range []*redisServer{r1, r2} {
		waitFor(t, "replica link up", func() bool {
			return strings.Contains(r.do(t, "INFO", "replication"), "master_link_status:up")
		})
	}
	c := newShard(t, shard.Options{Servers: serverOpts(primary, r1, r2), Mode: shard.Primary, Primary: 0})
	_, err := c.Set(ctx, "k", []byte("v"), 0, false)
	require.NoError(t, err)
	require.NoError(t, c.SetMany(ctx, []string{"a", "b"}, [][]byte{[]byte("1"), []byte("2")}, 0))
	assert.Equal(t, "v", primary.do(t, "GET", "k"))
	for _, r := range []*redisServer{r1, r2} {
		waitFor(t, "replication of b", func() bool { return r.do(t, "GET", "b") == "2" })
		r.do(t, "CONFIG", "RESETSTAT")
	}
	primary.do(t, "CONFIG", "RESETSTAT")
	for i := 0; i < 10; i++ {
		v, found, err := c.Get(ctx, "k")
		require.NoError(t, err)
		assert.True(t, found)
		assert.Equal(t, []byte("v"), v)
	}
	vals, err := c.GetMany(ctx, []string{"a", "b"})
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("1"), []byte("2")}, vals)
	assert.Equal(t, 0, primary.calls(t, "get")+primary.calls(t, "mget"), "the primary serves no reads")
	assert.Equal(t, 5, r1.calls(t, "get"), "reads alternate between the replicas")
	assert.Equal(t, 5, r2.calls(t, "get"))

	_, _, err = c.Incr(ctx, "k", 1)
	require.Error(t, err, "incr of a non-integer is a server error from the primary")
	assert.Equal(t, client.KindServer, client.KindOf(err))

	r1.stop()
	for i := 0; i < 10; i++ {
		v, found, err := c.Get(ctx, "k")
		require.NoError(t, err, "read %d with a replica killed", i)
		assert.True(t, found)
		assert.Equal(t, []byte("v"), v)
	}
	r2.stop()
	v, found, err := c.Get(ctx, "k")
	require.NoError(t, err, "with every replica down the primary serves reads")
	assert.True(t, found)
	assert.Equal(t, []byte("v"), v)
}

func TestShardClearFansOut(t *testing.T) {
	servers := []*redisServer{startRedis(t), startRedis(t), startRedis(t)}
	c := newShard(t, shard.Options{Servers: serverOpts(servers...), HashRing: shard.KidoredisRing})
	keys := make([]string, 50)
	vals := make([][]byte, 50)
	for i := range keys {
		keys[i], vals[i] = fmt.Sprintf("pre:1:%d", i), []byte("v")
	}
	require.NoError(t, c.SetMany(ctx, keys, vals, 0))
	servers[0].do(t, "SET", "other", "x")
	n, err := c.Clear(ctx, "pre:*")
	require.NoError(t, err)
	assert.EqualValues(t, 50, n)
	assert.Equal(t, "x", servers[0].do(t, "GET", "other"))
	for _, s := range servers {
		want := ":0"
		if s == servers[0] {
			want = ":1"
		}
		assert.Equal(t, want, s.do(t, "DBSIZE"))
	}
}

func TestShardConfigErrors(t *testing.T) {
	_, err := shard.New(shard.Options{})
	assert.Error(t, err)
	_, err = shard.New(shard.Options{Servers: serverOpts(&redisServer{Addr: "127.0.0.1:1"}), Mode: shard.Primary, Primary: 3})
	assert.ErrorContains(t, err, "primary")
	_, err = shard.New(shard.Options{Servers: serverOpts(&redisServer{Addr: "a:1"}, &redisServer{Addr: "b:1"}), HashRing: "nope"})
	assert.ErrorContains(t, err, "hash ring")
}

// BenchmarkShardGetMany100 is the hot multi-key path: 100 keys split over
// the servers, one MGET per server, concurrently (compare 1 and 3 servers).
func BenchmarkShardGetMany100(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(strconv.Itoa(n)+"servers", func(b *testing.B) {
			opts := make([]client.Options, n)
			for i := range opts {
				opts[i] = client.Options{Addr: startRedis(b).Addr}
			}
			c, err := shard.New(shard.Options{Servers: opts})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			keys := make([]string, 100)
			vals := make([][]byte, 100)
			for i := range keys {
				keys[i], vals[i] = ":1:key"+strconv.Itoa(i), make([]byte, 100)
			}
			if err := c.SetMany(ctx, keys, vals, 0); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := c.GetMany(ctx, keys); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkShardSetMany100 is the same for SetMany (one pipeline per server).
func BenchmarkShardSetMany100(b *testing.B) {
	opts := make([]client.Options, 3)
	for i := range opts {
		opts[i] = client.Options{Addr: startRedis(b).Addr}
	}
	c, err := shard.New(shard.Options{Servers: opts})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	keys := make([]string, 100)
	vals := make([][]byte, 100)
	for i := range keys {
		keys[i], vals[i] = ":1:key"+strconv.Itoa(i), make([]byte, 100)
	}
	for b.Loop() {
		if err := c.SetMany(ctx, keys, vals, 0); err != nil {
			b.Fatal(err)
		}
	}
}
