package migrate

import (
	"context"
	"strings"
	"sync"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/herd"
	"github.com/redis-cache-go/redis-cache-go/core/shard"
)

// batchOut is what one source server's batch did.
type batchOut struct {
	next     uint64
	counts   Counts
	failures []Failure
	refused  []int // destination servers found refusing RESTORE payloads
	err      error
}

// outcome of one key, ordered: a key written to several servers takes the
// largest of its writes' outcomes.
type outcome int

const (
	none outcome = iota
	expired
	already
	copied
	failed
)

// item is one scanned key on its way to the destination.
type item struct {
	key     string
	owners  []int  // destination servers it goes to (not the source itself)
	moved   bool   // no destination server is the source: it may be deleted there after
	payload string // DUMP
	ttl     int64  // ms; 0: no expiry
	result  outcome
	viaSet  bool // copied by GET/SET
	reason  string
	server  string
}

// restoreRefused reports whether a RESTORE error reply says the payload is
// of a format the destination does not read (another RDB version or a bad
// checksum: "DUMP payload version or checksum are wrong").
func restoreRefused(msg string) bool {
	return strings.Contains(msg, "payload version or checksum")
}

// batch copies one SCAN step's keys from source server t.
func (c *Copier) batch(ctx context.Context, t int, cursor uint64, refused []bool) (out batchOut) {
	src := c.src.Server(c.targets[t])
	keys, next, err := src.Scan(ctx, cursor, c.opts.Pattern, c.opts.Count)
	if err != nil {
		return batchOut{err: err}
	}
	out.next = next
	out.counts.Scanned = int64(len(keys))
	if c.opts.CountOnly || len(keys) == 0 {
		return out
	}
	items := c.route(src.String(), keys, &out.counts)
	if err := c.read(ctx, src, items); err != nil {
		return batchOut{err: err}
	}
	if err := c.write(ctx, items, refused, &out); err != nil {
		return batchOut{err: err}
	}
	if err := c.fallback(ctx, src, items, refused); err != nil {
		return batchOut{err: err}
	}
	for _, it := range items {
		switch it.result {
		case expired:
			out.counts.Expired++
		case already:
			out.counts.Already++
		case copied:
			out.counts.Copied++
			if it.viaSet {
				out.counts.Fallback++
			}
		case failed:
			out.counts.Failed++
			out.failures = append(out.failures, Failure{Key: it.key, Server: it.server, Reason: it.reason})
		}
	}
	if c.opts.DeleteMoved {
		if err := c.deleteMoved(ctx, src, items, &out.counts); err != nil {
			return batchOut{err: err}
		}
	}
	return out
}

// routeKey is the key whose placement a key follows: get_or_set's flags,
// lock and tag live with their value's key (core/herd).
func routeKey(key string) string {
	for _, companion := range []func(string) string{herd.FreshKey, herd.LockKey, herd.TagKey} {
		if p := companion(""); strings.HasPrefix(key, p) {
			return key[len(p):]
		}
	}
	return key
}

// route gives each key its destination servers other than the source
// (srcName); a key with none is skipped (its owner does not change).
func (c *Copier) route(srcName string, keys []string, counts *Counts) []*item {
	items := make([]*item, 0, len(keys))
	for _, k := range keys {
		var owners []int
		if c.dst.Mode() == shard.Copy {
			for d := range c.dstNames {
				owners = append(owners, d)
			}
		} else {
			owners = []int{c.dst.Locate(routeKey(k))}
		}
		it := &item{key: k, moved: true}
		for _, d := range owners {
			if c.dstNames[d] == srcName {
				it.moved = false
			} else {
				it.owners = append(it.owners, d)
			}
		}
		if len(it.owners) == 0 {
			counts.Skipped++
			continue
		}
		items = append(items, it)
	}
	return items
}

// read fills each item's payload and TTL (DUMP + PTTL, one pipeline);
// a key gone meanwhile is expired.
func (c *Copier) read(ctx context.Context, src *client.Client, items []*item) error {
	cmds := make([][]any, 0, 2*len(items))
	for _, it := range items {
		cmds = append(cmds, []any{"dump", it.key}, []any{"pttl", it.key})
	}
	replies, errs, err := src.Pipeline(ctx, cmds)
	if err != nil {
		return err
	}
	for i, it := range items {
		payload, ok := replies[2*i].(string)
		ms, _ := replies[2*i+1].(int64)
		switch {
		case errs[2*i] != nil || errs[2*i+1] != nil:
			it.result, it.server = failed, src.String()
			it.reason = "reading it: " + firstError(errs[2*i], errs[2*i+1]).Error()
		case !ok || ms == -2:
			it.result = expired
		default:
			it.payload, it.ttl = payload, max(ms, 0)
		}
	}
	return nil
}

func firstError(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// write sends RESTORE (no REPLACE) per destination server, concurrently;
// a server that refuses the payload is marked in refused (and out.refused)
// and its keys are left to fallback.
func (c *Copier) write(ctx context.Context, items []*item, refused []bool, out *batchOut) error {
	per := c.perServer(items, func(d int) bool { return !refused[d] })
	var mu sync.Mutex
	return c.eachServer(ctx, per, func(d int, its []*item) error {
		cmds := make([][]any, len(its))
		for i, it := range its {
			cmds[i] = []any{"restore", it.key, it.ttl, it.payload}
		}
		_, errs, err := c.dst.Server(d).Pipeline(ctx, cmds)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for i, it := range its {
			switch e := errs[i]; {
			case e == nil:
				it.settle(copied, "", "")
			case strings.HasPrefix(e.Error(), "BUSYKEY"):
				it.settle(already, "", "")
			case restoreRefused(e.Error()):
				if !refused[d] {
					refused[d] = true
					out.refused = append(out.refused, d)
				}
			default:
				it.settle(failed, c.dstNames[d], "RESTORE: "+e.Error())
			}
		}
		return nil
	})
}

// settle records one write's outcome; the worst of a key's writes stands.
func (it *item) settle(o outcome, server, reason string) {
	if o > it.result {
		it.result = o
		if o == failed {
			it.server, it.reason = server, reason
		}
	}
}

// perServer groups the items still to write (read, not failed) by
// destination server, for the servers use accepts.
func (c *Copier) perServer(items []*item, use func(d int) bool) map[int][]*item {
	per := map[int][]*item{}
	for _, it := range items {
		if it.payload == "" || it.result == failed || it.result == expired {
			continue
		}
		for _, d := range it.owners {
			if use(d) {
				per[d] = append(per[d], it)
			}
		}
	}
	return per
}

// eachServer runs f on every destination server of per concurrently; the
// errors are joined, each naming its server.
func (c *Copier) eachServer(ctx context.Context, per map[int][]*item, f func(d int, its []*item) error) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for d, its := range per {
		wg.Add(1)
		go func(d int, its []*item) {
			defer wg.Done()
			if err := f(d, its); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(d, its)
	}
	wg.Wait()
	if len(errs) > 0 {
		return stepError(errs)
	}
	return nil
}
