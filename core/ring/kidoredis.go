package ring

import (
	"crypto/md5"
	"encoding/binary"
	"sort"
	"strconv"
)

// KidoredisPointsPerLabel is the number of md5 digests per label (at weight
// 1) in hash_ring; each digest gives 3 points.
const KidoredisPointsPerLabel = 40

// Kidoredis is the Doist hash_ring 1.3.1 placement that django-kidoredis'
// RedisRing used. Build it with NewKidoredis.
type Kidoredis struct {
	positions []uint32 // sorted, unique
	servers   []int    // server index of each position
	n         int
}

// NewKidoredis builds hash_ring over labels, in LOCATION order
// (kidoredis labels its servers "0", "1", … — KidoredisLabels returns
// them). weights is nil for weight 1 each, or one weight >= 1 per server:
// label s gets floor(40 * len(labels) * w[s] / sum(w)) digests of
// "{label}-{j}", 3 little-endian points each. A position produced twice
// belongs to the label that produced it last, as in hash_ring's dict.
func NewKidoredis(labels []string, weights []int) (*Kidoredis, error) {
	if err := checkWeights(weights, len(labels)); err != nil {
		return nil, err
	}
	w := normalize(weights, len(labels))
	total := 0
	for _, x := range w {
		total += x
	}
	owner := make(map[uint32]int)
	for s, label := range labels {
		factor := KidoredisPointsPerLabel * len(labels) * w[s] / total
		for j := 0; j < factor; j++ {
			sum := md5.Sum([]byte(label + "-" + strconv.Itoa(j)))
			for p := 0; p < 3; p++ {
				owner[binary.LittleEndian.Uint32(sum[4*p:])] = s
			}
		}
	}
	r := &Kidoredis{n: len(labels), positions: make([]uint32, 0, len(owner))}
	for pos := range owner {
		r.positions = append(r.positions, pos)
	}
	sort.Slice(r.positions, func(a, b int) bool { return r.positions[a] < r.positions[b] })
	r.servers = make([]int, len(r.positions))
	for i, pos := range r.positions {
		r.servers[i] = owner[pos]
	}
	return r, nil
}

// KidoredisLabels returns the labels kidoredis gave n servers: "0" … "n-1".
func KidoredisLabels(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}

// KidoredisPosition is hash_ring's gen_key: the first 4 bytes of the md5 of
// the key's UTF-8 bytes, read little-endian.
func KidoredisPosition(key string) uint32 {
	sum := md5.Sum([]byte(key))
	return binary.LittleEndian.Uint32(sum[:4])
}

// Locate returns the server of the first point strictly greater than
// KidoredisPosition(key), wrapping to the lowest point.
func (r *Kidoredis) Locate(key string) int {
	pos := KidoredisPosition(key)
	i := sort.Search(len(r.positions), func(i int) bool { return r.positions[i] > pos })
	if i == len(r.positions) {
		i = 0
	}
	return r.servers[i]
}

// Len returns the number of servers.
func (r *Kidoredis) Len() int { return r.n }
