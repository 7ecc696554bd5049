package migrate

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/expiry"
	"github.com/redis-cache-go/redis-cache-go/core/shard"
	"github.com/redis-cache-go/redis-cache-go/internal/redistest"
)

var ctx = context.Background()

func layout(t *testing.T, mode shard.Mode, servers ...*redistest.Server) *shard.Cache {
	t.Helper()
	var opts []client.Options
	for _, s := range servers {
		opts = append(opts, client.Options{Addr: s.Addr})
	}
	c, err := shard.New(shard.Options{Mode: mode, Servers: opts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// run steps a copy to the end and returns the summed counts.
func run(t *testing.T, c *Copier) Counts {
	t.Helper()
	var st State
	var total Counts
	for steps := 0; !st.Finished(); steps++ {
		if steps > 10000 {
			t.Fatal("the copy does not end")
		}
		next, res, err := c.Step(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		total.add(res.Counts)
		st = next
	}
	return total
}

func fill(t *testing.T, s *shard.Cache, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		ttl := expiry.TTL(0)
		if i%2 == 0 {
			ttl = expiry.TTL(600_000 + i)
		}
		if _, err := s.Set(ctx, fmt.Sprintf(":1:k%d", i), []byte(strings.Repeat("v", i%50)+strconv.Itoa(i)), ttl, false); err != nil {
			t.Fatal(err)
		}
	}
}

func pttl(t *testing.T, s *redistest.Server, key string) int64 {
	n, err := strconv.ParseInt(strings.TrimPrefix(s.Do(t, "PTTL", key), ":"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOneServerToRingThenNoOp(t *testing.T) {
	one := redistest.Start(t)
	r := []*redistest.Server{redistest.Start(t), redistest.Start(t), redistest.Start(t)}
	src, dst := layout(t, shard.Ring, one), layout(t, shard.Ring, r...)
	const n = 500
	fill(t, src, n)
	one.Do(t, "HSET", ":1:hash", "f", "v") // not a string: RESTORE copies it all the same
	c, err := New(src, dst, Options{Pattern: ":1:*", Count: 64})
	if err != nil {
		t.Fatal(err)
	}
	got := run(t, c)
	want := Counts{Scanned: n + 1, Copied: n + 1}
	if got != want {
		t.Fatalf("counts %+v; want %+v", got, want)
	}
	for i := 0; i < n; i++ {
		key := fmt.Sprintf(":1:k%d", i)
		owner := r[dst.Locate(key)]
		if v := owner.Do(t, "GET", key); v != strings.Repeat("v", i%50)+strconv.Itoa(i) {
			t.Fatalf("%s on its owner = %q", key, v)
		}
		ms := pttl(t, owner, key)
		if i%2 == 1 && ms != -1 || i%2 == 0 && (ms > int64(600_000+i) || ms < int64(600_000+i)-1000) {
			t.Fatalf("%s: PTTL %d on the destination", key, ms)
		}
	}
	if v := r[dst.Locate(":1:hash")].Do(t, "HGET", ":1:hash", "f"); v != "v" {
		t.Fatalf("hash field = %q", v)
	}
	again := run(t, c)
	if again != (Counts{Scanned: n + 1, Already: n + 1}) {
		t.Fatalf("re-run counts %+v; want every key already there", again)
	}
}

func TestRingGrowsInPlaceWithDeleteMoved(t *testing.T) {
	s := []*redistest.Server{redistest.Start(t), redistest.Start(t), redistest.Start(t), redistest.Start(t)}
	src, dst := layout(t, shard.Ring, s[:3]...), layout(t, shard.Ring, s...)
	const n = 600
	fill(t, src, n)
	moving := 0
	for i := 0; i < n; i++ {
		if k := fmt.Sprintf(":1:k%d", i); src.Locate(k) != dst.Locate(k) {
			moving++
		}
	}
	if moving == 0 || moving == n {
		t.Fatalf("%d of %d keys move: not a test of the in-place form", moving, n)
	}
	c, err := New(src, dst, Options{Count: 50, DeleteMoved: true})
	if err != nil {
		t.Fatal(err)
	}
	got := run(t, c)
	want := Counts{Scanned: n, Skipped: int64(n - moving), Copied: int64(moving), Deleted: int64(moving)}
	if got != want {
		t.Fatalf("counts %+v; want %+v", got, want)
	}
	for i := 0; i < n; i++ {
		k := fmt.Sprintf(":1:k%d", i)
		for j, srv := range s {
			has := srv.Do(t, "EXISTS", k) == ":1"
			if has != (j == dst.Locate(k)) {
				t.Fatalf("%s on server %d: %v (owner %d, was %d)", k, j, has, dst.Locate(k), src.Locate(k))
			}
		}
	}
	if again := run(t, c); again != (Counts{Scanned: int64(n - moving), Skipped: int64(n - moving)}) {
		t.Fatalf("re-run counts %+v; want the keys left on the old servers skipped", again)
	}
}

func TestDeleteKeepsAKeyRewrittenSinceItWasRead(t *testing.T) {
	s := []*redistest.Server{redistest.Start(t), redistest.Start(t)}
	c, err := New(layout(t, shard.Ring, s[0]), layout(t, shard.Ring, s[1]), Options{DeleteMoved: true})
	if err != nil {
		t.Fatal(err)
	}
	s[0].Do(t, "SET", "a", "old")
	s[0].Do(t, "SET", "b", "old")
	src := c.src.Server(0)
	items := []*item{{key: "a", moved: true}, {key: "b", moved: true}}
	if err := c.read(ctx, src, items); err != nil {
		t.Fatal(err)
	}
	s[0].Do(t, "SET", "b", "new") // rewritten by the site after the copy read it
	items[0].result, items[1].result = copied, copied
	var counts Counts
	if err := c.deleteMoved(ctx, src, items, &counts); err != nil {
		t.Fatal(err)
	}
	if counts.Deleted != 1 || counts.Changed != 1 {
		t.Fatalf("counts %+v; want 1 deleted, 1 changed", counts)
	}
	if s[0].Do(t, "EXISTS", "a") != ":0" || s[0].Do(t, "GET", "b") != "new" {
		t.Fatal("a should be gone and b keep its new value")
	}
}

func TestExpiredBetweenScanAndDump(t *testing.T) {
	s := redistest.Start(t)
	c, err := New(layout(t, shard.Ring, s), layout(t, shard.Ring, redistest.Start(t)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	items := []*item{{key: "gone", moved: true, owners: []int{0}}}
	if err := c.read(ctx, c.src.Server(0), items); err != nil {
		t.Fatal(err)
	}
	if items[0].result != expired {
		t.Fatalf("a key missing at DUMP: outcome %d; want expired", items[0].result)
	}
}

func TestFallbackCopiesStringsAndReportsOtherTypes(t *testing.T) {
	one, other := redistest.Start(t), redistest.Start(t)
	c, err := New(layout(t, shard.Ring, one), layout(t, shard.Ring, other), Options{})
	if err != nil {
		t.Fatal(err)
	}
	one.Do(t, "SET", "s", "text", "PX", "500000")
	one.Do(t, "SET", "p", "forever")
	one.Do(t, "RPUSH", "l", "x")
	other.Do(t, "SET", "p", "theirs")
	// as if the destination had refused a RESTORE payload already (Valkey to Redis)
	_, res, err := c.Step(ctx, State{Cursors: []uint64{0}, Done: []bool{false}, Refused: []int{0}})
	if err != nil {
		t.Fatal(err)
	}
	want := Counts{Scanned: 3, Copied: 1, Fallback: 1, Already: 1, Failed: 1}
	if res.Counts != want {
		t.Fatalf("counts %+v; want %+v", res.Counts, want)
	}
	if len(res.Failures) != 1 || res.Failures[0].Key != "l" || !strings.Contains(res.Failures[0].Reason, "a list cannot be copied") ||
		res.Failures[0].Server != "redis "+other.Addr+" db 0" {
		t.Fatalf("failures %+v", res.Failures)
	}
	if other.Do(t, "GET", "s") != "text" || other.Do(t, "GET", "p") != "theirs" {
		t.Fatal("s should be copied and p left as it was")
	}
	if ms := pttl(t, other, "s"); ms < 499000 || ms > 500000 {
		t.Fatalf("PTTL of s %d", ms)
	}
}

func TestUnreachableDestinationNamesIt(t *testing.T) {
	one := redistest.Start(t)
	dead := redistest.FreeAddr(t)
	dst, err := shard.New(shard.Options{Servers: []client.Options{{Addr: dead, Password: "hunter2-secret"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	one.Do(t, "SET", "k", "v")
	c, err := New(layout(t, shard.Ring, one), dst, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := State{Cursors: []uint64{0}, Done: []bool{false}}
	next, _, err := c.Step(ctx, st)
	if err == nil || !strings.Contains(err.Error(), dead) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v; want one naming %s without the password", err, dead)
	}
	if client.KindOf(err) != client.KindConnection || next.Done[0] {
		t.Fatalf("kind %v, state %+v: want a connection error and the state unchanged", client.KindOf(err), next)
	}
}

func TestCountOnlyAndBounds(t *testing.T) {
	one := redistest.Start(t)
	src := layout(t, shard.Ring, one)
	fill(t, src, 30)
	c, err := New(src, layout(t, shard.Ring, redistest.Start(t)), Options{CountOnly: true, Count: 7})
	if err != nil {
		t.Fatal(err)
	}
	if got := run(t, c); got != (Counts{Scanned: 30}) {
		t.Fatalf("count-only counts %+v", got)
	}
	if _, err := New(src, src, Options{Count: MaxCount + 1}); client.KindOf(err) != client.KindArgument {
		t.Fatalf("a batch past MaxCount: %v", err)
	}
	if _, _, err := c.Step(ctx, State{Cursors: []uint64{0, 0}, Done: []bool{false, false}}); client.KindOf(err) != client.KindArgument {
		t.Fatalf("a state for two sources on one: %v", err)
	}
}
