package frame

import (
	"encoding/binary"
	"errors"
	"strings"
)

// Keys decodes a frame of keys into strings Go owns (one allocation for
// all of them), for callers that may keep them; a missing item is an error.
func Keys(buf []byte) ([]string, error) {
	items, err := Decode(buf)
	if err != nil {
		return nil, err
	}
	total := 0
	for _, it := range items {
		if it == nil {
			return nil, errors.New("frame: a key is marked missing")
		}
		total += len(it)
	}
	var all strings.Builder
	all.Grow(total)
	for _, it := range items {
		all.Write(it)
	}
	joined := all.String()
	keys := make([]string, len(items))
	off := 0
	for i, it := range items {
		keys[i] = joined[off : off+len(it)]
		off += len(it)
	}
	return keys, nil
}

// Pairs decodes a frame of key, value, key, value … into owned keys and
// values that alias buf; a missing key or value, or an odd item count, is
// an error.
func Pairs(buf []byte) ([]string, [][]byte, error) {
	items, err := Decode(buf)
	if err != nil {
		return nil, nil, err
	}
	if len(items)%2 != 0 {
		return nil, nil, errors.New("frame: needs key, value pairs")
	}
	keys := make([]string, len(items)/2)
	vals := make([][]byte, len(items)/2)
	for i := range keys {
		k, v := items[2*i], items[2*i+1]
		if k == nil || v == nil {
			return nil, nil, errors.New("frame: a key or value is marked missing")
		}
		keys[i], vals[i] = string(k), v
	}
	return keys, vals, nil
}

// Writer builds a frame of a known number of items in place while they
// arrive, in increasing index order (each index at most once; the others
// stay Missing). It writes into the buffer it was given (the caller's result
// memory) and moves to Go memory only when that turns out too small.
type Writer struct {
	buf   []byte
	off   int  // end of the items written so far
	moved bool // buf is no longer the given buffer
}

// NewWriter starts a frame of n items in buf.
func NewWriter(buf []byte, n int) *Writer {
	head := 4 + 4*n
	w := &Writer{buf: buf, off: head}
	if len(buf) < head {
		w.buf, w.moved = make([]byte, 2*head), true
	}
	binary.LittleEndian.PutUint32(w.buf, uint32(n))
	for i := 4; i < head; i++ {
		w.buf[i] = 0xFF // Missing
	}
	return w
}

// Put writes item i (after every lower index put; v no longer than MaxItem).
func (w *Writer) Put(i int, v []byte) {
	if need := w.off + len(v); need > len(w.buf) {
		grown := make([]byte, max(2*len(w.buf), need))
		copy(grown, w.buf[:w.off])
		w.buf, w.moved = grown, true
	}
	binary.LittleEndian.PutUint32(w.buf[4+4*i:], uint32(len(v)))
	w.off += copy(w.buf[w.off:], v)
}

// Bytes returns the frame, and whether it is still in the buffer given to
// NewWriter (else it is in Go memory).
func (w *Writer) Bytes() ([]byte, bool) { return w.buf[:w.off], !w.moved }
