package main

/*
#include "redis_cache_go.h"
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/redis-cache-go/redis-cache-go/core/codec"
)

// codecConfig is the "codec" member of the configuration document: how
// values are compressed on the way to Redis and decoded on the way back.
type codecConfig struct {
	Compressor string `json:"compressor"` // codec.ParseFormat name; "" or "none": store as given
	Level      int    `json:"level"`      // 0: the compressor's default
	MinLen     int    `json:"min_len"`    // shorter values are stored uncompressed
	// MaxRatio bounds what a stored value may inflate to: this many times its
	// stored size, at least the format's floor (codec.Options.MaxRatio);
	// 0: the default (64), negative: no ratio bound (512 MiB only).
	MaxRatio int `json:"max_ratio"`
	// Decode false hands stored values back exactly as stored (the caller
	// decodes, e.g. with a compressor of its own and rcg_decode). Default true.
	Decode *bool `json:"decode"`
}

// valueCodec applies a handle's codec to the values of its operations.
type valueCodec struct {
	codec  *codec.Codec
	decode bool
}

// parseCodec reads the "codec" member of the configuration document (absent
// or null: no compression, every known format decoded).
func parseCodec(raw json.RawMessage) (*valueCodec, error) {
	var c codecConfig
	if len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("invalid codec configuration: %w", err)
		}
	}
	f, err := codec.ParseFormat(c.Compressor)
	if err != nil {
		return nil, err
	}
	cd, err := codec.New(codec.Options{Format: f, Level: c.Level, MinLen: c.MinLen, MaxRatio: c.MaxRatio})
	if err != nil {
		return nil, err
	}
	return &valueCodec{codec: cd, decode: c.Decode == nil || *c.Decode}, nil
}

// encode returns the form of value to store.
func (v *valueCodec) encode(value []byte) ([]byte, error) { return v.codec.Encode(value) }

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
func (v *valueCodec) encodePooled(value []byte) (stored []byte, buf *pooledBuf, err error) {
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

// putValue writes what a read hands back for stored (see decodeValue) to
// out. A stream that states its decompressed size (zstd) is decoded straight
// into the result memory (the scratch buffer or the C allocation handed to
// the caller); any other through a pooled buffer, then copied once.
func (v *valueCodec) putValue(out *C.rcg_out, stored []byte) {
	if !v.decode || codec.Sniff(stored) == codec.None {
		putBytes(out, stored)
		return
	}
	// The header is trusted for the allocation only within the value's decode
	// limit (a crafted frame could claim up to 512 MiB), which refuses it.
	if n, ok := codec.ContentSize(stored); ok && n > 0 && n <= v.codec.Options().DecodeLimit(codec.Zstd, len(stored)) {
		dst := reserve(out, n)
		got, _, err := v.codec.DecodeTo(dst, stored)
		if err == nil && len(got) == n && &got[0] == &dst[0] {
			return
		}
		unreserve(out) // failed, or more than the header said: take the general path
	}
	b := getBuf()
	got, _, err := v.codec.DecodeTo(*b, stored)
	if err != nil {
		putBytes(out, stored)
		bufs.Put(b)
		return
	}
	putBytes(out, got)
	putBuf(b, got)
}

// decodeValue returns what a read hands back for stored: the decompressed
// value when stored is a valid stream of a known format, else stored as is
// (a value that only starts like a stream is the serializer's to judge).
func (v *valueCodec) decodeValue(stored []byte) []byte {
	if !v.decode {
		return stored
	}
	out, _, _ := v.codec.Decode(stored)
	return out
}

// recode returns stored re-encoded with the handle's compressor (see
// reinsert), or false when stored starts like a compressed stream but does
// not decode (corrupt, or past its decode limit): such a value is left as
// it is, never wrapped in another layer.
func (v *valueCodec) recode(stored []byte) ([]byte, bool, error) {
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

//export rcgx_decode
func rcgx_decode(out *C.rcg_out, data *C.uint8_t, n C.size_t) (status C.int) {
	defer guard(0, out, &status)
	reset(out)
	value, format, err := codec.Decode(borrowed(data, n))
	if err != nil {
		putMessage(out, "redis-cache-go: "+err.Error())
		return C.RCG_ERR_ARGUMENT
	}
	if format == codec.None {
		return C.RCG_MISS
	}
	putBytes(out, value)
	out.num = C.int64_t(format)
	return C.RCG_OK
}

// parseCodecOf reads the codec member of a whole configuration document
// (parseConfig has already validated the rest of it).
func parseCodecOf(doc []byte) (*valueCodec, error) {
	var d struct {
		Codec json.RawMessage `json:"codec"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("invalid configuration document: %w", err)
	}
	return parseCodec(d.Codec)
}
