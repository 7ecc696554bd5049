// Package frame encodes and decodes the length-prefixed batches that cross
// the C boundary in one call: a little-endian uint32 item count, then for
// each item a little-endian uint32 length followed by that many bytes. The
// length Missing (0xFFFFFFFF) marks an absent item (a cache miss) and is
// followed by no bytes.
package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Missing is the reserved length of an absent item.
const Missing = 0xFFFFFFFF

// MaxItem is the largest item length a frame can carry.
const MaxItem = Missing - 1

// ErrTruncated reports a frame that ends before its declared contents.
var ErrTruncated = errors.New("frame: truncated")

// Decode splits buf into its items. Items alias buf (no copy); an absent
// item is nil, an empty one is a non-nil empty slice. Bytes after the last
// item are an error, so a frame is never silently misread.
func Decode(buf []byte) ([][]byte, error) {
	if len(buf) < 4 {
		return nil, ErrTruncated
	}
	count := binary.LittleEndian.Uint32(buf)
	rest := buf[4:]
	// Each item needs at least its 4-byte length: cap the allocation by
	// what the buffer can hold, so a hostile count cannot exhaust memory.
	if uint64(count)*4 > uint64(len(rest)) {
		return nil, ErrTruncated
	}
	items := make([][]byte, count)
	for i := range items {
		if len(rest) < 4 {
			return nil, ErrTruncated
		}
		n := binary.LittleEndian.Uint32(rest)
		rest = rest[4:]
		if n == Missing {
			continue
		}
		if uint64(n) > uint64(len(rest)) {
			return nil, ErrTruncated
		}
		items[i] = rest[:n:n]
		rest = rest[n:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("frame: %d trailing bytes after %d items", len(rest), count)
	}
	return items, nil
}

// Size returns the encoded length of items (nil items are absent).
func Size(items [][]byte) int {
	n := 4
	for _, it := range items {
		n += 4
		if it != nil {
			n += len(it)
		}
	}
	return n
}

// Put encodes items into dst, which must be at least Size(items) long, and
// returns the number of bytes written. It panics if an item is longer than
// MaxItem or dst is too short.
func Put(dst []byte, items [][]byte) int {
	binary.LittleEndian.PutUint32(dst, uint32(len(items)))
	off := 4
	for _, it := range items {
		if it == nil {
			binary.LittleEndian.PutUint32(dst[off:], Missing)
			off += 4
			continue
		}
		if uint64(len(it)) > MaxItem {
			panic("frame: item too long")
		}
		binary.LittleEndian.PutUint32(dst[off:], uint32(len(it)))
		off += 4
		off += copy(dst[off:], it)
	}
	return off
}

// Append encodes items at the end of dst and returns the extended slice.
func Append(dst []byte, items [][]byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, Size(items))...)
	Put(dst[start:], items)
	return dst
}
