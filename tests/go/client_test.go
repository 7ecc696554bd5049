package gotests

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/expiry"
)

var ctx = context.Background()

func newClient(t *testing.T, opts client.Options) *client.Client {
	t.Helper()
	c := client.New(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestClientSingleKeyOperations(t *testing.T) {
	s := startRedis(t)
	c := newClient(t, client.Options{Addr: s.Addr, DB: 3})

	_, found, err := c.Get(ctx, "k")
	require.NoError(t, err)
	assert.False(t, found, "missing key is a miss, not an error")

	stored, err := c.Set(ctx, "k", []byte("v\x00\xff"), 0, false)
	require.NoError(t, err)
	assert.True(t, stored)
	v, found, err := c.Get(ctx, "k")
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, []byte("v\x00\xff"), v)

	stored, err = c.Set(ctx, "k", []byte("other"), 0, true)
	require.NoError(t, err)
	assert.False(t, stored, "NX on an existing key stores nothing")

	stored, err = c.Set(ctx, "fresh", []byte(""), 0, true)
	require.NoError(t, err)
	assert.True(t, stored)
	v, found, _ = c.Get(ctx, "fresh")
	assert.True(t, found)
	assert.Equal(t, []byte{}, v, "an empty value is found and empty")

	ok, err := c.Exists(ctx, "k")
	require.NoError(t, err)
	assert.True(t, ok)
	deleted, err := c.Delete(ctx, "k")
	require.NoError(t, err)
	assert.True(t, deleted)
	deleted, err = c.Delete(ctx, "k")
	require.NoError(t, err)
	assert.False(t, deleted)
	ok, _ = c.Exists(ctx, "k")
	assert.False(t, ok)
}

func TestClientTTLs(t *testing.T) {
	s := startRedis(t)
	c := newClient(t, client.Options{Addr: s.Addr})

	began := time.Now()
	_, err := c.Set(ctx, "t", []byte("1"), expiry.Of(1500*time.Millisecond), false)
	require.NoError(t, err)
	ttl, found, err := c.TTL(ctx, "t")
	require.NoError(t, err)
	assert.True(t, found)
	// 1500 ms less at most the time since the Set began (Redis rounds to whole ms): no fixed
	// allowance, so a pause on a loaded machine cannot fail it.
	assert.LessOrEqual(t, int64(ttl), int64(1500))
	assert.GreaterOrEqual(t, int64(ttl), int64(1500-time.Since(began).Milliseconds()-1), "ttl in ms: got %v", ttl)

	found, err = c.Persist(ctx, "t")
	require.NoError(t, err)
	assert.True(t, found)
	ttl, _, _ = c.TTL(ctx, "t")
	assert.Equal(t, expiry.TTL(-1), ttl)
	found, err = c.Persist(ctx, "t")
	require.NoError(t, err)
	assert.True(t, found, "persist of a key without expiry still reports it exists")

	found, err = c.Expire(ctx, "t", expiry.Of(10*time.Second))
	require.NoError(t, err)
	assert.True(t, found)
	ttl, _, _ = c.TTL(ctx, "t")
	assert.Greater(t, ttl.Duration(), 9*time.Second)

	found, err = c.Expire(ctx, "t", 0)
	require.NoError(t, err)
	assert.True(t, found, "expire 0 deletes an existing key")
	ok, _ := c.Exists(ctx, "t")
	assert.False(t, ok)

	for _, op := range []func() (bool, error){
		func() (bool, error) { return c.Persist(ctx, "missing") },
		func() (bool, error) { return c.Expire(ctx, "missing", expiry.Of(time.Second)) },
		func() (bool, error) { _, f, e := c.TTL(ctx, "missing"); return f, e },
	} {
		found, err := op()
		require.NoError(t, err)
		assert.False(t, found)
	}
}

func TestClientIncr(t *testing.T) {
	s := startRedis(t)
	c := newClient(t, client.Options{Addr: s.Addr})

	_, found, err := c.Incr(ctx, "n", 1)
	require.NoError(t, err)
	assert.False(t, found, "incr of a missing key is a miss")
	ok, _ := c.Exists(ctx, "n")
	assert.False(t, ok, "incr must not create the key")

	_, _ = c.Set(ctx, "n", []byte("40"), expiry.Of(time.Hour), false)
	v, found, err := c.Incr(ctx, "n", 2)
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, int64(42), v)
	ttl, _, _ := c.TTL(ctx, "n")
	assert.Greater(t, ttl.Duration(), 59*time.Minute, "incr keeps the TTL")

	_, _ = c.Set(ctx, "s", []byte("\x80\x05pickle"), 0, false)
	_, _, err = c.Incr(ctx, "s", 1)
	require.Error(t, err)
	assert.Equal(t, client.KindServer, client.KindOf(err))
	assert.Contains(t, err.Error(), s.Addr)
}

func TestClientRename(t *testing.T) {
	s := startRedis(t)
	c := newClient(t, client.Options{Addr: s.Addr})
	_, _ = c.Set(ctx, ":1:k", []byte("v"), expiry.Of(time.Hour), false)
	found, err := c.Rename(ctx, ":1:k", ":2:k")
	require.NoError(t, err)
	assert.True(t, found)
	v, found, _ := c.Get(ctx, ":2:k")
	assert.True(t, found)
	assert.Equal(t, []byte("v"), v)
	ttl, _, _ := c.TTL(ctx, ":2:k")
	assert.Greater(t, ttl.Duration(), 59*time.Minute, "rename keeps the TTL")
	found, err = c.Rename(ctx, ":1:k", ":3:k")
	require.NoError(t, err)
	assert.False(t, found)
}

func TestClientMany(t *testing.T) {
	s := startRedis(t)
	c := newClient(t, client.Options{Addr: s.Addr})

	vals, err := c.GetMany(ctx, nil)
	require.NoError(t, err)
	assert.Empty(t, vals)
	require.NoError(t, c.SetMany(ctx, nil, nil, 0))
	n, err := c.DeleteMany(ctx, nil)
	require.NoError(t, err)
	assert.Zero(t, n)

	keys := []string{"a", "b", "c"}
	require.NoError(t, c.SetMany(ctx, keys, [][]byte{[]byte("1"), {}, []byte("3")}, expiry.Of(time.Minute)))
	vals, err = c.GetMany(ctx, []string{"a", "missing", "b", "c"})
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte("1"), nil, {}, []byte("3")}, vals)
	ttl, _, _ := c.TTL(ctx, "c")
	assert.Greater(t, ttl.Duration(), 50*time.Second)

	err = c.SetMany(ctx, keys, [][]byte{[]byte("1")}, 0)
	assert.Equal(t, client.KindArgument, client.KindOf(err))

	n, err = c.DeleteMany(ctx, []string{"a", "b", "nope"})
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
}

func TestClientManyIsOneRoundTrip(t *testing.T) {
	s := startRedis(t)
	c := newClient(t, client.Options{Addr: s.Addr})
	keys := make([]string, 100)
	vals := make([][]byte, 100)
	for i := range keys {
		keys[i], vals[i] = fmt.Sprint("k", i), []byte("v")
	}
	require.NoError(t, c.SetMany(ctx, keys, vals, 0))
	_, err := c.GetMany(ctx, keys)
	require.NoError(t, err)
	stats := s.do(t, "INFO", "commandstats")
	assert.Contains(t, stats, "cmdstat_mget:calls=1,", "get_many of 100 keys is one MGET")
	assert.Contains(t, stats, "cmdstat_mset:calls=1,", "set_many without expiry is one MSET")
	require.NoError(t, c.SetMany(ctx, keys, vals, expiry.Of(time.Minute)))
	stats = s.do(t, "INFO", "commandstats")
	assert.Contains(t, stats, "cmdstat_set:calls=100,", "set_many with a TTL is one pipeline of SET PX")
}

func TestClientClear(t *testing.T) {
	s := startRedis(t)
	c := newClient(t, client.Options{Addr: s.Addr, ScanCount: 7})
	for i := range 50 {
		_, _ = c.Set(ctx, fmt.Sprintf("app:1:k%d", i), []byte("v"), 0, false)
	}
	_, _ = c.Set(ctx, "other:1:k", []byte("v"), 0, false)
	_, _ = c.Set(ctx, "app*:1:k", []byte("v"), 0, false)

	n, err := c.Clear(ctx, `app:*`)
	require.NoError(t, err)
	assert.Equal(t, int64(50), n)
	for _, k := range []string{"other:1:k", "app*:1:k"} {
		ok, _ := c.Exists(ctx, k)
		assert.True(t, ok, "%s must survive a clear of another prefix", k)
	}

	n, err = c.Clear(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, int64(-1), n)
	assert.Equal(t, ":0", s.do(t, "DBSIZE"))
}

func TestClientErrorsAreClassified(t *testing.T) {
	locked := startRedis(t, "--requirepass", "s3cret-pw")
	silent := silentServer(t)
	refused := refusedAddr(t)

	cases := []struct {
		name string
		opts client.Options
		want client.Kind
	}{
		{"connection refused", client.Options{Addr: refused, DialTimeout: time.Second}, client.KindConnection},
		{"server never answers", client.Options{Addr: silent, ReadTimeout: 200 * time.Millisecond}, client.KindTimeout},
		{"wrong password", client.Options{Addr: locked.Addr, Password: "wrong-pw"}, client.KindAuth},
		{"no password", client.Options{Addr: locked.Addr}, client.KindAuth},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, tc.opts)
			start := time.Now()
			_, _, err := c.Get(ctx, "k")
			require.Error(t, err)
			assert.Equal(t, tc.want, client.KindOf(err), "error: %v", err)
			assert.Contains(t, err.Error(), tc.opts.Addr, "the message names the server")
			assert.NotContains(t, err.Error(), "pw", "the message never contains the password")
			assert.Less(t, time.Since(start), 3*time.Second)
		})
	}

	c := newClient(t, client.Options{Addr: locked.Addr, Password: "s3cret-pw"})
	require.NoError(t, c.Ping(ctx))
	require.NoError(t, c.Close())
	_, _, err := c.Get(ctx, "k")
	assert.Equal(t, client.KindClosed, client.KindOf(err))
	assert.False(t, strings.Contains(c.String(), "s3cret"))
}

func TestClientRawPathSharesTheBreaker(t *testing.T) {
	// GET/SET go through core/wire, TTL through go-redis: one breaker counts both.
	silent := newSilent(t)
	c := newClient(t, client.Options{Addr: silent.Addr, ReadTimeout: 100 * time.Millisecond, BreakerFailures: 2, BreakerCooldown: time.Minute})
	_, _, err := c.Get(ctx, "k")
	assert.Equal(t, client.KindTimeout, client.KindOf(err), "first GET: %v", err)
	_, err = c.Set(ctx, "k", []byte("v"), 0, false)
	assert.Equal(t, client.KindTimeout, client.KindOf(err), "SET: %v", err)
	dialled := silent.accepted(t)
	assert.Equal(t, 2, dialled, "connections for the two calls that timed out")
	_, _, err = c.TTL(ctx, "k")
	assert.Equal(t, client.KindConnection, client.KindOf(err), "TTL after two timeouts: %v", err)
	assert.Contains(t, err.Error(), "circuit breaker open")
	_, _, err = c.Get(ctx, "k")
	assert.Contains(t, err.Error(), "circuit breaker open")
	// An open breaker fails at once: the refused calls never reached the server.
	assert.Equal(t, dialled, silent.accepted(t), "connections after the breaker opened")
}

func TestClientRawPathErrorReplies(t *testing.T) {
	s := startRedis(t)
	c := newClient(t, client.Options{Addr: s.Addr})
	s.do(t, "LPUSH", "list", "x")
	_, _, err := c.Get(ctx, "list")
	assert.Equal(t, client.KindServer, client.KindOf(err), "GET of a list: %v", err)
	assert.Contains(t, err.Error(), "WRONGTYPE")
	_, _, err = c.Incr(ctx, "list", 1)
	assert.Equal(t, client.KindServer, client.KindOf(err), "INCR of a list: %v", err)
	// the connection stays usable after an error reply
	_, err = c.Set(ctx, "k", []byte("v"), 0, false)
	require.NoError(t, err)
	v, ok, err := c.Get(ctx, "k")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "v", string(v))
}
