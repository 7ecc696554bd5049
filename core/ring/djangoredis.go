package ring

import (
	"bytes"
	"crypto/sha256"
	"sort"
	"strconv"
	"strings"
)

// DjangoRedisReplicas is the number of points per server on django-redis'
// HashRing (its default, used by ShardClient).
const DjangoRedisReplicas = 128

// DjangoRedis is the placement of django-redis 7.0's ShardClient: each
// server, named by its LOCATION entry as written, gets 128 points, the
// SHA-256 digests of "{name}:{i}"; a key goes to the point with the largest
// digest <= the digest of its hash tag (see DjangoRedisTag), wrapping to the
// highest point. Build it with NewDjangoRedis.
type DjangoRedis struct {
	points  [][sha256.Size]byte // sorted; duplicates kept, as in django-redis' list
	servers []int               // server index of each point
	n       int
}

// NewDjangoRedis builds the ring over names, in LOCATION order. Weights are
// not part of django-redis' ring: weights must be nil, or all equal (which
// places keys as none). Two servers with the same name are one node, held
// by the first of them, as in django-redis' name-keyed dictionaries.
func NewDjangoRedis(names []string, weights []int) (*DjangoRedis, error) {
	if err := checkWeights(weights, len(names)); err != nil {
		return nil, err
	}
	for _, w := range normalize(weights, len(names)) {
		if w != 1 {
			return nil, errorf("django-redis' ring has no weights")
		}
	}
	first := make(map[string]int, len(names))
	r := &DjangoRedis{n: len(names)}
	type point struct {
		digest [sha256.Size]byte
		server int
	}
	pts := make([]point, 0, len(names)*DjangoRedisReplicas)
	for s, name := range names {
		if _, ok := first[name]; !ok {
			first[name] = s
		}
		for i := 0; i < DjangoRedisReplicas; i++ {
			pts = append(pts, point{sha256.Sum256([]byte(name + ":" + strconv.Itoa(i))), first[name]})
		}
	}
	sort.SliceStable(pts, func(a, b int) bool { return bytes.Compare(pts[a].digest[:], pts[b].digest[:]) < 0 })
	r.points = make([][sha256.Size]byte, len(pts))
	r.servers = make([]int, len(pts))
	for i, p := range pts {
		r.points[i], r.servers[i] = p.digest, p.server
	}
	return r, nil
}

// DjangoRedisTag returns the part of key that ShardClient hashes: what
// lies between the last "{" and the last "}" after it, both before the
// first newline (its regular expression `.*\{(.*)\}.*`), or the whole key
// when there is no such pair.
func DjangoRedisTag(key string) string {
	line := key
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	end := strings.LastIndexByte(line, '}')
	if end < 0 {
		return key
	}
	start := strings.LastIndexByte(line[:end], '{')
	if start < 0 {
		return key
	}
	return line[start+1 : end]
}

// Locate returns the server of the point with the largest digest <= the
// SHA-256 of DjangoRedisTag(key), wrapping to the highest point.
func (r *DjangoRedis) Locate(key string) int {
	sum := sha256.Sum256([]byte(DjangoRedisTag(key)))
	// bisect_right - 1: the last point <= sum
	i := sort.Search(len(r.points), func(i int) bool { return bytes.Compare(r.points[i][:], sum[:]) > 0 }) - 1
	if i < 0 {
		i = len(r.points) - 1
	}
	return r.servers[i]
}

// Len returns the number of servers.
func (r *DjangoRedis) Len() int { return r.n }
