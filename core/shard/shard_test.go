package shard

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/redis-cache-go/redis-cache-go/core/client"
)

func three(t testing.TB, mode Mode) *Cache {
	t.Helper()
	c, err := New(Options{Mode: mode, Servers: []client.Options{{Addr: "10.0.0.1:6379"}, {Addr: "10.0.0.2:6379"}, {Addr: "10.0.0.3:6379"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestDefaultNames(t *testing.T) {
	cases := []struct {
		opts client.Options
		want string
	}{
		{client.Options{Addr: "127.0.0.1:6381", DB: 15}, "('127.0.0.1', 6381, 15, None)"},
		{client.Options{Addr: "/tmp/r.sock", DB: 2}, "(None, None, 2, '/tmp/r.sock')"},
		{client.Options{Network: "unix", Addr: "r.sock"}, "(None, None, 0, 'r.sock')"},
	}
	for _, c := range cases {
		if got := defaultName(c.opts); got != c.want {
			t.Errorf("defaultName(%+v) = %s; want %s", c.opts, got, c.want)
		}
	}
}

func TestReadOrder(t *testing.T) {
	cases := []struct {
		name string
		mode Mode
		down []int
		want func(order []int) bool
	}{
		{"ring: the key's server only", Ring, nil, func(o []int) bool { return len(o) == 1 }},
		{"copy: every server", Copy, nil, func(o []int) bool { return len(o) == 3 }},
		{"copy: a down server goes last", Copy, []int{0}, func(o []int) bool { return len(o) == 3 && o[2] == 0 }},
		{"primary: replicas then the primary", Primary, nil, func(o []int) bool { return len(o) == 3 && o[2] == 0 && o[0] != 0 }},
		{"primary: a down replica after the primary", Primary, []int{1}, func(o []int) bool { return len(o) == 3 && o[0] == 2 && o[1] == 0 && o[2] == 1 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := three(t, tc.mode)
			for _, i := range tc.down {
				c.markDown(i)
			}
			for k := 0; k < 4; k++ {
				if o := c.readOrder("key"); !tc.want(o) {
					t.Fatalf("readOrder = %v", o)
				}
			}
		})
	}
}

func TestReadsRotate(t *testing.T) {
	c := three(t, Copy)
	first := map[int]int{}
	for k := 0; k < 30; k++ {
		first[c.readOrder("k")[0]]++
	}
	if len(first) != 3 || first[0] != 10 {
		t.Fatalf("first servers %v; want 10 each", first)
	}
}

func TestGroupKeysKeepsPositions(t *testing.T) {
	c := three(t, Ring)
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = ":1:key" + strconv.Itoa(i)
	}
	seen := make([]bool, len(keys))
	for _, g := range c.groupKeys(keys) {
		for _, p := range g.Pos {
			if c.Locate(keys[p]) != g.Server || seen[p] {
				t.Fatalf("key %d in the wrong or a second group", p)
			}
			seen[p] = true
		}
	}
	for p, ok := range seen {
		if !ok {
			t.Fatalf("key %d in no group", p)
		}
	}
}

func TestErrorNamesEveryFailedServer(t *testing.T) {
	e1 := &client.Error{Kind: client.KindConnection, Server: "redis a:1 db 0", Op: "SET", Err: errors.New("refused")}
	e2 := &client.Error{Kind: client.KindTimeout, Server: "redis b:1 db 0", Op: "SET", Err: errors.New("i/o timeout")}
	err := error(&Error{Op: "SET", Failed: []error{e1, e2}, Of: 3})
	msg := err.Error()
	if !strings.Contains(msg, "2 of 3 servers") || !strings.Contains(msg, "redis a:1") || !strings.Contains(msg, "redis b:1") {
		t.Fatalf("message %q", msg)
	}
	if client.KindOf(err) != client.KindConnection {
		t.Fatalf("KindOf = %v; want the first failure's kind", client.KindOf(err))
	}
	if !err.(*Error).Partial() {
		t.Fatal("2 of 3 failed: Partial should be true")
	}
}

func TestIsOutage(t *testing.T) {
	cases := []struct {
		kind client.Kind
		msg  string
		want bool
	}{
		{client.KindConnection, "refused", true},
		{client.KindTimeout, "i/o timeout", true},
		{client.KindServer, "LOADING Redis is loading the dataset in memory", true},
		{client.KindServer, "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.", true},
		{client.KindServer, "WRONGTYPE Operation against a key holding the wrong kind of value", false},
		{client.KindAuth, "WRONGPASS", false},
	}
	for _, c := range cases {
		err := &client.Error{Kind: c.kind, Server: "redis a:1 db 0", Op: "GET", Err: errors.New(c.msg)}
		if isOutage(err) != c.want {
			t.Errorf("isOutage(%v %q) = %v", c.kind, c.msg, !c.want)
		}
	}
}

func TestIsRead(t *testing.T) {
	for name, want := range map[string]bool{"get": true, "HGETALL": true, "zrange": true, "SET": false, "hset": false, "EXPIRE": false} {
		if IsRead(name) != want {
			t.Errorf("IsRead(%s) = %v; want %v", name, !want, want)
		}
	}
}

func BenchmarkGroupKeys100(b *testing.B) {
	c := three(b, Ring)
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = ":1:key" + strconv.Itoa(i)
	}
	for b.Loop() {
		c.groupKeys(keys)
	}
}

func BenchmarkReadOrderPrimary(b *testing.B) {
	c := three(b, Primary)
	for b.Loop() {
		c.readOrder("k")
	}
}

func TestReadGroups(t *testing.T) {
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"}
	cases := []struct {
		name string
		mode Mode
		down []int
		want func(c *Cache, key string) []int // the servers key may be read from
	}{
		{name: "ring reads the key's server", mode: Ring, want: func(c *Cache, k string) []int { return []int{c.Locate(k)} }},
		{name: "primary reads the primary", mode: Primary, want: func(*Cache, string) []int { return []int{0} }},
		{name: "primary reads the primary, replicas down or not", mode: Primary, down: []int{1, 2}, want: func(*Cache, string) []int { return []int{0} }},
		{name: "copy reads any server", mode: Copy, want: func(*Cache, string) []int { return []int{0, 1, 2} }},
		{name: "copy skips a server marked down", mode: Copy, down: []int{1}, want: func(*Cache, string) []int { return []int{0, 2} }},
		{name: "copy with every server down still reads one", mode: Copy, down: []int{0, 1, 2}, want: func(*Cache, string) []int { return []int{0, 1, 2} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := three(t, tc.mode)
			for _, i := range tc.down {
				c.markDown(i)
			}
			seen := map[int]bool{}
			for _, g := range c.ReadGroups(keys) {
				for _, p := range g.Pos {
					if seen[p] {
						t.Fatalf("position %d in two groups", p)
					}
					seen[p] = true
					ok := false
					for _, s := range tc.want(c, keys[p]) {
						ok = ok || s == g.Server
					}
					if !ok {
						t.Fatalf("key %q read from server %d; want one of %v", keys[p], g.Server, tc.want(c, keys[p]))
					}
					if again := c.ReadServer(keys[p]); again != g.Server {
						t.Fatalf("key %q: ReadServer %d, then %d; want one server per key", keys[p], g.Server, again)
					}
				}
			}
			if len(seen) != len(keys) {
				t.Fatalf("groups hold %d keys; want %d", len(seen), len(keys))
			}
		})
	}
}
