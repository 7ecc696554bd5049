package ring

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
)

// SeedReplicas is the number of virtual nodes per unit of weight in the
// seed ring (django-redis-cache's HashRing default).
const SeedReplicas = 16

// Seed is django-redis-cache 3.0.1's ring. Build it with NewSeed.
type Seed struct {
	positions []uint32 // sorted ascending; equal positions keep insertion order
	servers   []int    // server index of each position
	n         int
}

type vnode struct {
	pos    uint32
	server int
}

// NewSeed builds the seed ring over servers named names (Python's repr of
// each identifier tuple, as Identifier returns it), in LOCATION order.
// weights is nil for weight 1 each, or one weight >= 1 per server; a server
// of (normalized) weight w gets w*16 virtual nodes "0:name" … "{16w-1}:name",
// as the seed's HashRing.add(node, weight) did. Servers with the same name
// share their virtual nodes, and keys on them go to the first such server,
// as in the seed (whose clients were keyed by identifier).
func NewSeed(names []string, weights []int) (*Seed, error) {
	if err := checkWeights(weights, len(names)); err != nil {
		return nil, err
	}
	w := normalize(weights, len(names))
	first := make(map[string]int, len(names))
	var nodes []vnode
	for s, name := range names {
		owner, seen := first[name]
		if !seen {
			first[name], owner = s, s
		}
		for i := 0; i < w[s]*SeedReplicas; i++ {
			nodes = append(nodes, vnode{Slot(strconv.Itoa(i) + ":" + name), owner})
		}
	}
	sort.SliceStable(nodes, func(a, b int) bool { return nodes[a].pos < nodes[b].pos })
	r := &Seed{positions: make([]uint32, len(nodes)), servers: make([]int, len(nodes)), n: len(names)}
	for i, v := range nodes {
		r.positions[i], r.servers[i] = v.pos, v.server
	}
	return r, nil
}

// Slot is the seed's position of a string: the last 4 bytes of the md5 of
// its UTF-8 bytes, read big-endian (redis_cache.sharder.get_slot).
func Slot(key string) uint32 {
	sum := md5.Sum([]byte(key))
	return binary.BigEndian.Uint32(sum[12:])
}

// Locate returns the server of the virtual node with the largest position
// <= Slot(key), or of the highest node when every node is above it.
func (r *Seed) Locate(key string) int {
	slot := Slot(key)
	// first index whose position is > slot (bisect_right), minus one
	i := sort.Search(len(r.positions), func(i int) bool { return r.positions[i] > slot }) - 1
	if i < 0 {
		i = len(r.positions) - 1
	}
	return r.servers[i]
}

// Len returns the number of servers.
func (r *Seed) Len() int { return r.n }

func errorf(format string, args ...any) error { return fmt.Errorf("ring: "+format, args...) }
