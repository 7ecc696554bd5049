package nearcache

import (
	"hash/maphash"
	"sync"
	"time"
)

// EntryOverhead is the bytes counted per entry on top of its key and value:
// the entry struct (key and value headers, expiry, list links: 72 bytes on
// 64-bit), its map slot and bucket share (about 40), and allocator rounding
// of the two allocations (about 16). MaxBytes bounds the sum of
// len(key)+len(value)+EntryOverhead over the entries.
const EntryOverhead = 128

// seqBuckets is the number of invalidation sequence counters keys hash to.
// A collision only drops a fill that would have been correct.
const seqBuckets = 4096

// entry is one cached value; entries form a doubly linked LRU list.
type entry struct {
	key        string
	val        []byte
	expires    int64 // monotonic nanoseconds (see store.now)
	prev, next *entry
}

func (e *entry) size() int64 { return int64(len(e.key)+len(e.val)) + EntryOverhead }

// Ticket is taken by Begin before a value is fetched from Redis and handed
// to Fill afterwards: Fill stores the value only if nothing that could make
// it stale happened in between (an invalidation of the key, a flush, a
// change of any tracking connection).
type Ticket struct {
	ok    bool // the server's tracking was confirmed when the ticket was taken
	epoch uint64
	seq   uint64
	start int64
}

// OK reports whether a fill with this ticket can store anything: false
// while invalidation tracking is not confirmed (the caller may then fetch
// without the TTL, as a plain GET).
func (t Ticket) OK() bool { return t.ok }

// source is one tracked server's state in the store (guarded by store.mu):
// up while its tracking connection is confirmed. A ticket is valid only
// for a server that is up, and a server that goes down flushes the store,
// which ends every ticket taken before.
type source struct {
	up bool
}

// store is the bounded LRU map with expiry, guarded by one mutex. It is
// shared by every tracked server of a Cache: one set of bounds and
// counters, one epoch that any flush or tracking loss moves on.
type store struct {
	mu         sync.Mutex
	m          map[string]*entry
	head, tail *entry // head = most recently used
	bytes      int64
	maxEntries int
	maxBytes   int64
	ttl        time.Duration
	prefix     string
	epoch      uint64 // bumped by every flush and every loss of a tracking connection
	seqs       [seqBuckets]uint64
	seed       maphash.Seed
	base       time.Time
	clock      func() time.Duration // since base; tests replace it
	st         Stats
}

func newStore(o Options) *store {
	s := &store{
		m:          make(map[string]*entry),
		maxEntries: o.MaxEntries,
		maxBytes:   o.MaxBytes,
		ttl:        o.TTL,
		prefix:     o.Prefix,
		seed:       maphash.MakeSeed(),
		base:       time.Now(),
	}
	s.clock = func() time.Duration { return time.Since(s.base) }
	return s
}

func (s *store) now() int64 { return int64(s.clock()) }

func (s *store) bucket(key string) *uint64 {
	return &s.seqs[maphash.String(s.seed, key)%seqBuckets]
}

func (s *store) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (s *store) pushFront(e *entry) {
	e.next = s.head
	if s.head != nil {
		s.head.prev = e
	}
	s.head = e
	if s.tail == nil {
		s.tail = e
	}
}

func (s *store) remove(e *entry) {
	s.unlink(e)
	delete(s.m, e.key)
	s.bytes -= e.size()
}

// get returns key's value when it is cached and not expired.
func (s *store) get(key string) ([]byte, bool) {
	s.mu.Lock()
	e := s.m[key]
	if e == nil {
		s.st.Misses++
		s.mu.Unlock()
		return nil, false
	}
	if s.now() >= e.expires {
		s.remove(e)
		s.st.Expired++
		s.st.Misses++
		s.mu.Unlock()
		return nil, false
	}
	if s.head != e {
		s.unlink(e)
		s.pushFront(e)
	}
	s.st.Hits++
	v := e.val // never modified once stored: safe to read after Unlock
	s.mu.Unlock()
	return v, true
}

// begin takes the ticket for a fetch of key from the server src tracks
// (nil: an untracked server, nothing can be kept).
func (s *store) begin(src *source, key string) Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	if src == nil || !src.up || len(key) < len(s.prefix) || key[:len(s.prefix)] != s.prefix {
		return Ticket{}
	}
	return Ticket{ok: true, epoch: s.epoch, seq: *s.bucket(key), start: s.now()}
}

// fill stores a copy of value for key if t is still valid; redisTTL is the
// key's remaining time in Redis (< 0: no expiry; 0: already expired).
func (s *store) fill(t Ticket, key string, value []byte, redisTTL time.Duration) bool {
	size := int64(len(key)+len(value)) + EntryOverhead
	if !t.ok || size > s.maxBytes || redisTTL == 0 {
		return false
	}
	life := s.ttl
	if redisTTL > 0 {
		// PTTL counts whole milliseconds of the server's clock, which can
		// lag the real one by up to 1ms: never count on the last one.
		life = min(life, redisTTL-time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch != t.epoch || *s.bucket(key) != t.seq {
		s.st.Dropped++
		return false
	}
	expires := t.start + int64(life)
	if expires <= s.now() {
		return false
	}
	if old := s.m[key]; old != nil {
		s.remove(old)
	}
	e := &entry{key: string([]byte(key)), val: append(make([]byte, 0, len(value)), value...), expires: expires}
	s.m[e.key] = e
	s.pushFront(e)
	s.bytes += size
	s.st.Fills++
	for len(s.m) > s.maxEntries || s.bytes > s.maxBytes {
		s.remove(s.tail)
		s.st.Evictions++
	}
	return true
}

func (s *store) invalidate(keys []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		*s.bucket(k)++
		if e := s.m[k]; e != nil {
			s.remove(e)
		}
		s.st.Invalidations++
	}
}

// setUp records that src's tracking connection is confirmed: fetches from
// it may be kept from now on. Nothing is flushed: while src was down no
// ticket for it was valid, and its loss flushed what it had protected.
func (s *store) setUp(src *source) {
	s.mu.Lock()
	defer s.mu.Unlock()
	src.up = true
}

// setDown records that src's tracking connection is gone (or was never
// confirmed). When it was up, the store is emptied and moves to a new
// epoch: invalidations from src may have been lost, for any entry.
func (s *store) setDown(src *source) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if src.up {
		src.up = false
		s.clearLocked()
	}
}

// upCount returns how many of srcs are up.
func (s *store) upCount(srcs []*source) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, src := range srcs {
		if src.up {
			n++
		}
	}
	return n
}

// flush empties the store, keeping the tracking state.
func (s *store) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearLocked()
}

func (s *store) clearLocked() {
	s.epoch++
	if len(s.m) > 0 {
		s.m = make(map[string]*entry)
	}
	s.head, s.tail, s.bytes = nil, nil, 0
	s.st.Flushes++
}

func (s *store) stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Entries = int64(len(s.m))
	st.Bytes = s.bytes
	return st
}
