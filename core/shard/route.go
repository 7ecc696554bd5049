package shard

import (
	"hash/fnv"
	"sync"

	"github.com/redis-cache-go/redis-cache-go/core/client"
)

// all returns 0 … n-1.
func (c *Cache) all() []int {
	idx := make([]int, len(c.servers))
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// writeTargets are the servers a write of key goes to.
func (c *Cache) writeTargets(key string) []int {
	if c.mode == Copy {
		return c.all()
	}
	return []int{c.Locate(key)}
}

// readOrder is the order in which servers are tried for a read of key:
// the key's server in Mode Ring; every server from a rotating start in
// Mode Copy; the replicas from a rotating start, then the primary, in Mode
// Primary. Servers marked down go to the end.
func (c *Cache) readOrder(key string) []int {
	var cand []int
	switch c.mode {
	case Ring:
		return []int{c.Locate(key)}
	case Copy:
		cand = c.all()
	case Primary:
		cand = c.replicas
	}
	order := make([]int, 0, len(cand)+1)
	var downs []int
	start := 0
	if len(cand) > 1 {
		start = int(c.next.Add(1) % uint64(len(cand)))
	}
	for k := range cand {
		i := cand[(start+k)%len(cand)]
		if c.isDown(i) {
			downs = append(downs, i)
		} else {
			order = append(order, i)
		}
	}
	if c.mode == Primary {
		order = append(order, c.primary)
	}
	return append(order, downs...)
}

// readOne runs f on the first server of order that answers; a server that
// fails with an outage is marked down and the next one is tried. Any other
// error (an error reply) is returned at once.
func readOne[T any](c *Cache, order []int, f func(*client.Client) (T, error)) (T, error) {
	var zero T
	var failed []error
	for _, i := range order {
		v, err := f(c.servers[i])
		if err == nil {
			return v, nil
		}
		if !isOutage(err) || len(order) == 1 {
			return zero, err
		}
		c.markDown(i)
		failed = append(failed, err)
	}
	return zero, &Error{Op: "read", Failed: failed, Of: len(order)}
}

// fanOut runs f on every server in targets, concurrently when there are
// several (the first on the calling goroutine), and returns the results
// aligned with targets. When any server fails, the error is an *Error
// naming each failed server (a lone target's error is returned as is);
// ok[k] tells which results are valid.
func fanOut[T any](c *Cache, op string, targets []int, f func(k int, s *client.Client) (T, error)) (res []T, ok []bool, err error) {
	res = make([]T, len(targets))
	ok = make([]bool, len(targets))
	if len(targets) == 1 {
		v, err := f(0, c.servers[targets[0]])
		res[0], ok[0] = v, err == nil
		return res, ok, err
	}
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for k := 1; k < len(targets); k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			res[k], errs[k] = f(k, c.servers[targets[k]])
		}(k)
	}
	res[0], errs[0] = f(0, c.servers[targets[0]])
	wg.Wait()
	var failed []error
	for k, e := range errs {
		ok[k] = e == nil
		if e != nil {
			failed = append(failed, e)
			if isOutage(e) {
				c.markDown(targets[k])
			}
		}
	}
	if failed != nil {
		return res, ok, &Error{Op: op, Failed: failed, Of: len(targets)}
	}
	return res, ok, nil
}

// write runs a single-key write on its targets and returns the result of
// the first server (in LOCATION order) that succeeded.
func write[T any](c *Cache, op, key string, f func(*client.Client) (T, error)) (T, error) {
	res, ok, err := fanOut(c, op, c.writeTargets(key), func(_ int, s *client.Client) (T, error) { return f(s) })
	for k := range res {
		if ok[k] {
			return res[k], err
		}
	}
	return res[0], err
}

// groupKeys splits keys by server for a write or a Ring read: in Mode Ring
// the ring decides; otherwise every key goes to the one server Locate
// gives (Pos nil: all of them).
func (c *Cache) groupKeys(keys []string) []Group {
	if c.ring == nil {
		return []Group{{Server: c.Locate(""), Pos: nil}}
	}
	return groupBy(keys, len(c.servers), c.ring.Locate)
}

// groupBy splits keys by the server locate gives each: one Group per
// involved server, in the order of the keys' first appearance.
func groupBy(keys []string, servers int, locate func(string) int) []Group {
	byServer := make(map[int]int, servers)
	var groups []Group
	for p, k := range keys {
		s := locate(k)
		g, seen := byServer[s]
		if !seen {
			g = len(groups)
			byServer[s] = g
			groups = append(groups, Group{Server: s})
		}
		groups[g].Pos = append(groups[g].Pos, p)
	}
	return groups
}

func pick[T any](items []T, pos []int) []T {
	if pos == nil {
		return items
	}
	out := make([]T, len(pos))
	for i, p := range pos {
		out[i] = items[p]
	}
	return out
}

// total is the sum of the counts of the servers that answered (ok[k]); in
// Mode Copy every server holds the same keys, so the first answer stands
// for all.
func (c *Cache) total(counts []int64, ok []bool) int64 {
	var n int64
	for k, v := range counts {
		if !ok[k] {
			continue
		}
		if c.mode == Copy {
			return v
		}
		n += v
	}
	return n
}

// ReadServer returns the index of the server a near-cache reads key from
// directly: key's ring server in Mode Ring; the primary in Mode Primary (a
// replica may lag behind a write this process just made, and a value older
// than one already seen must never come back); in Mode Copy a server chosen
// by the key's hash, the next one when it is marked down, so that reads of
// one key keep going to one server.
func (c *Cache) ReadServer(key string) int {
	if c.mode != Copy {
		return c.Locate(key)
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	n := len(c.servers)
	start := int(h.Sum32() % uint32(n))
	for k := 0; k < n; k++ {
		if i := (start + k) % n; !c.isDown(i) {
			return i
		}
	}
	return start
}

// Group is the positions (in the caller's key slice) of the keys that go
// to one server.
type Group struct {
	Server int
	Pos    []int
}

// ReadGroups splits keys by ReadServer: one group per involved server, in
// the order of the keys' first appearance, so that a multi-key read is one
// round trip per involved server, as GetMany's.
func (c *Cache) ReadGroups(keys []string) []Group {
	return groupBy(keys, len(c.servers), c.ReadServer)
}

// ReadFailed records that a read sent straight to server i (see
// ReadServer) failed with err: an outage marks the server down as the
// layout's own reads do. It reports whether the read should be retried
// through the layout (Get, GetMany), which then tries another server: true
// only for an outage in Mode Copy with several servers.
func (c *Cache) ReadFailed(i int, err error) bool {
	if !isOutage(err) || c.mode != Copy || len(c.servers) < 2 {
		return false
	}
	c.markDown(i)
	return true
}
