// Package ring places cache keys on servers with the consistent-hashing
// rings of the libraries redis-cache-go replaces, bit for bit, so a site
// that switches keeps every key on the server that already holds it.
//
// Three rings are provided:
//
//   - Seed: django-redis-cache 3.0.1's ring (the default). 16 virtual nodes
//     per server named "{i}:{name}", where name is Python's repr() of the
//     server's identifier tuple (see Identifier); a key goes to the virtual
//     node with the largest position <= the key's slot, wrapping to the
//     highest node.
//   - Kidoredis: the Doist hash_ring placement used by django-kidoredis'
//     RedisRing: 40 md5 digests per label giving 3 points each; a key goes to
//     the first point strictly greater than its position, wrapping to the
//     lowest.
//   - DjangoRedis: django-redis' ShardClient ring: 128 SHA-256 points per
//     server named by its LOCATION entry; a key (or its {hash tag}) goes to
//     the point with the largest digest <= its own, wrapping to the highest.
//
// Seed and Kidoredis take a weight per server. Weights are divided by their greatest
// common divisor first, so equal weights (of any value) place keys exactly
// as unweighted rings do.
package ring

// Ring maps a key to the index of the server that holds it. Implementations
// are immutable after construction and safe for concurrent use.
type Ring interface {
	// Locate returns the index, in the order given to the constructor, of
	// the server key belongs to.
	Locate(key string) int
	// Len returns the number of servers.
	Len() int
}

// normalize returns weights divided by their greatest common divisor, with
// nil or an empty slice meaning weight 1 for each of n servers. Weights
// below 1 are an error reported by the constructors.
func normalize(weights []int, n int) []int {
	out := make([]int, n)
	if len(weights) == 0 {
		for i := range out {
			out[i] = 1
		}
		return out
	}
	g := 0
	for _, w := range weights {
		g = gcd(g, w)
	}
	for i, w := range weights {
		out[i] = w / g
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func checkWeights(weights []int, n int) error {
	if len(weights) != 0 && len(weights) != n {
		return errorf("%d weights for %d servers", len(weights), n)
	}
	for i, w := range weights {
		if w < 1 {
			return errorf("weight %d of server %d must be >= 1", w, i)
		}
	}
	if n == 0 {
		return errorf("a ring needs at least one server")
	}
	return nil
}
