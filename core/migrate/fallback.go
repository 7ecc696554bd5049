package migrate

import (
	"context"
	"sync"

	"github.com/redis-cache-go/redis-cache-go/core/client"
)

// fallback copies, with GET and SET NX [PX ttl], the keys bound for
// destination servers that refuse RESTORE payloads (refused): strings
// only; a key of another type fails with a reason that says why.
func (c *Copier) fallback(ctx context.Context, src *client.Client, items []*item, refused []bool) error {
	per := c.perServer(items, func(d int) bool { return refused[d] })
	if len(per) == 0 {
		return nil
	}
	var need []*item // each key read once, whatever number of servers it goes to
	seen := map[*item]bool{}
	for _, its := range per {
		for _, it := range its {
			if !seen[it] {
				seen[it] = true
				need = append(need, it)
			}
		}
	}
	values, err := readStrings(ctx, src, need)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	return c.eachServer(ctx, per, func(d int, its []*item) error {
		var cmds [][]any
		var sent []*item
		mu.Lock()
		for _, it := range its {
			v := values[it]
			switch {
			case v.kind == "none":
				it.settle(expired, "", "")
			case v.kind != "string":
				it.settle(failed, c.dstNames[d], "a "+v.kind+" cannot be copied: this server refuses the source's "+
					"DUMP payloads (another RDB version, e.g. Valkey and Redis) and only strings are copied with GET/SET")
			default:
				cmd := []any{"set", it.key, v.value}
				if v.ttl > 0 {
					cmd = append(cmd, "px", v.ttl)
				}
				cmds, sent = append(cmds, append(cmd, "nx")), append(sent, it)
			}
		}
		mu.Unlock()
		replies, errs, err := c.dst.Server(d).Pipeline(ctx, cmds)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for i, it := range sent {
			switch {
			case errs[i] != nil:
				it.settle(failed, c.dstNames[d], "SET: "+errs[i].Error())
			case replies[i] == nil:
				it.settle(already, "", "")
			default:
				it.settle(copied, "", "")
				it.viaSet = true
			}
		}
		return nil
	})
}

// stringValue is a key's type and, for a string, its value and TTL (ms,
// 0: none) as fallback reads them.
type stringValue struct {
	kind  string
	value string
	ttl   int64
}

// readStrings reads TYPE, GET and PTTL of items in one pipeline (GET of a
// non-string is an error reply, ignored: its type says why).
func readStrings(ctx context.Context, src *client.Client, items []*item) (map[*item]stringValue, error) {
	cmds := make([][]any, 0, 3*len(items))
	for _, it := range items {
		cmds = append(cmds, []any{"type", it.key}, []any{"get", it.key}, []any{"pttl", it.key})
	}
	replies, _, err := src.Pipeline(ctx, cmds)
	if err != nil {
		return nil, err
	}
	out := make(map[*item]stringValue, len(items))
	for i, it := range items {
		kind, _ := replies[3*i].(string)
		value, isString := replies[3*i+1].(string)
		ms, _ := replies[3*i+2].(int64)
		if kind == "string" && (!isString || ms == -2) {
			kind = "none" // expired between the reads
		}
		if kind == "" {
			kind = "none"
		}
		out[it] = stringValue{kind: kind, value: value, ttl: max(ms, 0)}
	}
	return out, nil
}
