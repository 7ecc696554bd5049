package migrate

import (
	"context"
	"fmt"

	"github.com/redis-cache-go/redis-cache-go/core/client"
)

// deleteIfSame deletes KEYS[1] only while its DUMP equals ARGV[1] (the
// bytes that were copied), answering 1 when it did: a key rewritten (or
// deleted and written again) since it was read stays. DUMP is a read, so a
// script may run it; the comparison runs on the server, atomically.
const deleteIfSame = `if redis.call('dump', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0`

// deleteMoved removes from the source server the keys of items whose owner
// changed and that the destination now holds (copied, or already there),
// each only if unchanged since it was read (deleteIfSame), in one pipeline.
func (c *Copier) deleteMoved(ctx context.Context, src *client.Client, items []*item, counts *Counts) error {
	var cmds [][]any
	for _, it := range items {
		if it.moved && (it.result == copied || it.result == already) {
			cmds = append(cmds, []any{"eval", deleteIfSame, 1, it.key, it.payload})
		}
	}
	if len(cmds) == 0 {
		return nil
	}
	replies, errs, err := src.Pipeline(ctx, cmds)
	if err != nil {
		return err
	}
	for i := range cmds {
		if errs[i] != nil {
			return &client.Error{Kind: client.KindServer, Server: src.String(), Op: "EVAL",
				Err: fmt.Errorf("deleting a moved key if unchanged: %w", errs[i])}
		}
		if n, _ := replies[i].(int64); n == 1 {
			counts.Deleted++
		} else {
			counts.Changed++
		}
	}
	return nil
}
