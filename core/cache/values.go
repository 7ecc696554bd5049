package cache

import (
	"sync"

	"github.com/redis-cache-go/redis-cache-go/core/codec"
)

// A Sink receives a value a read returns, in memory its caller provides
// (the C library's result buffer, or Go memory: Buffer), so that a large
// value is written there once.
type Sink interface {
	// Alloc returns n writable bytes that will hold the value.
	Alloc(n int) []byte
	// Free drops what the last Alloc returned (the value did not fit: the
	// read calls Alloc again).
	Free()
}

// Buffer is a Sink in Go memory: B holds the value after a read.
type Buffer struct {
	// B is the value (nil until a read writes one).
	B []byte
}

// Alloc sets B to n bytes, reusing its memory when it is large enough.
func (b *Buffer) Alloc(n int) []byte {
	if cap(b.B) >= n {
		b.B = b.B[:n]
	} else {
		b.B = make([]byte, n)
	}
	return b.B
}

// Free sets B to nil.
func (b *Buffer) Free() { b.B = nil }

// copyTo copies v into dst.
func copyTo(dst Sink, v []byte) { copy(dst.Alloc(len(v)), v) }

// values applies a cache's codec policy to the values of its operations:
// written values are compressed, read values decoded when they are a valid
// stream of a known format (and decode is on), else handed back as stored.
type values struct {
	codec  *codec.Codec
	decode bool
}

// encode returns the form of value to store.
func (v *values) encode(value []byte) ([]byte, error) { return v.codec.Encode(value) }

// bufs pools the buffers large values are compressed into and decompressed
// through, so a steady stream of big values allocates nothing in Go and
// starts no garbage collections (which, with the process pinned to one CPU,
// take the CPU away from the call itself).
var bufs sync.Pool // of *[]byte

// maxPooled bounds the buffers kept in bufs.
const maxPooled = 8 << 20

func getBuf() *[]byte {
	if b, ok := bufs.Get().(*[]byte); ok {
		return b
	}
	return new([]byte)
}

func putBuf(b *[]byte, used []byte) {
	if cap(used) > maxPooled {
		return
	}
	*b = used[:0]
	bufs.Put(b)
}

// encodePooled returns the form of value to store, compressed into a
// pooled buffer; buf.release() hands that buffer back once the value has
// been written (nothing may keep stored after that).
func (v *values) encodePooled(value []byte) (stored []byte, buf *pooledBuf, err error) {
	b := getBuf()
	stored, compressed, err := v.codec.EncodeTo(*b, value)
	if err != nil || !compressed {
		bufs.Put(b)
		return stored, nil, err
	}
	return stored, &pooledBuf{b, stored}, nil
}

// pooledBuf is a buffer from bufs and the slice of it in use.
type pooledBuf struct {
	b    *[]byte
	used []byte
}

// release hands p's buffer back to bufs (p may be nil).
func (p *pooledBuf) release() {
	if p != nil {
		putBuf(p.b, p.used)
	}
}

// put writes what a read hands back for stored (see decodeValue) to dst.
// A stream that states its decompressed size (zstd) is decoded straight
// into dst's memory; any other through a pooled buffer, then copied once.
func (v *values) put(dst Sink, stored []byte) {
	if !v.decode || codec.Sniff(stored) == codec.None {
		copyTo(dst, stored)
		return
	}
	// The header is trusted for the allocation only within the value's decode
	// limit (a crafted frame could claim up to 512 MiB), which refuses it.
	if n, ok := codec.ContentSize(stored); ok && n > 0 && n <= v.codec.Options().DecodeLimit(codec.Zstd, len(stored)) {
		mem := dst.Alloc(n)
		got, _, err := v.codec.DecodeTo(mem, stored)
		if err == nil && len(got) == n && &got[0] == &mem[0] {
			return
		}
		dst.Free() // failed, or more than the header said: take the general path
	}
	b := getBuf()
	got, _, err := v.codec.DecodeTo(*b, stored)
	if err != nil {
		copyTo(dst, stored)
		bufs.Put(b)
		return
	}
	copyTo(dst, got)
	putBuf(b, got)
}

// decodeValue returns what a read hands back for stored: the decompressed
// value when stored is a valid stream of a known format, else stored as is
// (a value that only starts like a stream is the serializer's to judge).
func (v *values) decodeValue(stored []byte) []byte {
	if !v.decode {
		return stored
	}
	out, _, _ := v.codec.Decode(stored)
	return out
}

// recode returns stored re-encoded with the cache's compressor (see
// Reinsert), or false when stored starts like a compressed stream but does
// not decode (corrupt, or past its decode limit): such a value is left as
// it is, never wrapped in another layer.
func (v *values) recode(stored []byte) ([]byte, bool, error) {
	plain := stored
	if v.decode {
		var err error
		if plain, _, err = v.codec.Decode(stored); err != nil {
			return nil, false, nil
		}
	}
	out, err := v.encode(plain)
	return out, err == nil, err
}
