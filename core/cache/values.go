package cache

import (
	"bytes"
	"sync"

	"github.com/redis-cache-go/redis-cache-go/core/codec"
	"github.com/redis-cache-go/redis-cache-go/core/protect"
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
// written values are compressed, then sealed when the cache protects
// values (core/protect); read values are opened (a value that does not
// open is rejected: a miss, or an error with Protection.Errors "raise"),
// then decoded when they are a valid stream of a known format (and decode
// is on), else handed back as stored.
type values struct {
	codec  *codec.Codec
	decode bool
	guard  *protect.Protector // nil: values are stored as they are
	// rejected records a value that did not open and returns what the read
	// returns for it: nil (a miss) or a *RejectedError.
	rejected func(key string, why error) error
}

// encode returns the form of value to store at key.
func (v *values) encode(key string, value []byte) ([]byte, error) {
	stored, err := v.codec.Encode(value)
	if err != nil || v.guard == nil {
		return stored, err
	}
	return v.guard.Seal(nil, key, stored), nil
}

// open returns the payload of stored, read from key (stored itself when
// the cache does not protect values; a signed value's payload is a slice
// of stored, an encrypted one's is appended to scratch[:0]), or false with
// what the read returns instead (see rejected).
func (v *values) open(key string, stored, scratch []byte) ([]byte, bool, error) {
	if v.guard == nil {
		return stored, true, nil
	}
	p, err := v.guard.Open(scratch, key, stored)
	if err != nil {
		return nil, false, v.rejected(key, err)
	}
	return p, true, nil
}

// valid reports whether stored opens (herd's test: a value that does not is
// absent, and computed again); a rejection is recorded.
func (v *values) valid(key string, stored []byte) bool {
	if v.guard == nil {
		return true
	}
	b := getBuf()
	p, ok, _ := v.open(key, stored, *b)
	v.release(b, stored, p)
	return ok
}

// release hands back to bufs the scratch buffer b that open used for
// stored: with the payload p when p was decrypted into it, else as it was.
// Any other payload (signed, a plain int, an accepted unprotected value) is
// a slice of stored, which the caller (or herd's other waiters) may still
// read: pooled, the next getBuf would write over it.
func (v *values) release(b *[]byte, stored, p []byte) {
	if p != nil && v.guard.Mode() == protect.Encrypt && protect.Is(stored) {
		putBuf(b, p)
		return
	}
	bufs.Put(b)
}

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

// encodePooled returns the form of value to store at key, compressed and
// sealed into pooled buffers; buf.release() hands them back once the value
// has been written (nothing may keep stored after that).
func (v *values) encodePooled(key string, value []byte) (stored []byte, buf *pooledBuf, err error) {
	b := getBuf()
	stored, compressed, err := v.codec.EncodeTo(*b, value)
	switch {
	case err != nil:
		bufs.Put(b)
		return nil, nil, err
	case v.guard == nil && !compressed:
		bufs.Put(b)
		return stored, nil, nil
	case v.guard == nil:
		return stored, &pooledBuf{b, stored}, nil
	case !compressed: // b is free: seal into it
		sealed := v.guard.Seal((*b)[:0], key, stored)
		return sealed, &pooledBuf{b, sealed}, nil
	}
	b2 := getBuf()
	sealed := v.guard.Seal((*b2)[:0], key, stored)
	putBuf(b, stored)
	return sealed, &pooledBuf{b2, sealed}, nil
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

// put writes what a read of key hands back for stored (see decodeValue) to
// dst and reports whether there is one: false, with the read's error or
// none, when stored does not open.
func (v *values) put(dst Sink, key string, stored []byte) (bool, error) {
	if v.guard != nil {
		b := getBuf()
		p, ok, err := v.open(key, stored, *b)
		if ok {
			v.putOpen(dst, p)
		}
		v.release(b, stored, p)
		return ok, err
	}
	v.putOpen(dst, stored)
	return true, nil
}

// putOpen is put for an opened payload. A stream that states its
// decompressed size (zstd) is decoded straight into dst's memory; any
// other through a pooled buffer, then copied once.
func (v *values) putOpen(dst Sink, stored []byte) {
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

// decodeValue returns what a read of key hands back for stored: the
// opened payload, decompressed when it is a valid stream of a known format,
// else as it is (a value that only starts like a stream is the
// serializer's to judge); false, with the read's error or none, when
// stored does not open. The result may share stored's memory.
func (v *values) decodeValue(key string, stored []byte) ([]byte, bool, error) {
	p, ok, err := v.open(key, stored, nil)
	if !ok || !v.decode || codec.Sniff(p) == codec.None {
		return p, ok, err
	}
	out, _, _ := v.codec.Decode(p)
	return out, true, nil
}

// recode returns stored, read from key, re-encoded with the cache's
// compressor and protection (see Reinsert), or false when it is left as it
// is: it does not open (rejected values are not logged here), or it starts
// like a compressed stream but does not decode (corrupt, or past its decode
// limit), so it is never wrapped in another layer. A value already in the
// current form comes back unchanged (an encrypted one is not re-encrypted).
func (v *values) recode(key string, stored []byte) ([]byte, bool, error) {
	plain := stored
	if v.guard != nil {
		p, err := v.guard.Open(nil, key, stored)
		if err != nil {
			return nil, false, nil
		}
		plain = p
	}
	opened := plain
	if v.decode {
		var err error
		if plain, _, err = v.codec.Decode(plain); err != nil {
			return nil, false, nil
		}
	}
	compressed, err := v.codec.Encode(plain)
	if err != nil {
		return nil, false, err
	}
	if v.guard == nil {
		return compressed, true, nil
	}
	if v.guard.Current(stored) && bytes.Equal(compressed, opened) {
		return stored, true, nil
	}
	return v.guard.Seal(nil, key, compressed), true, nil
}
