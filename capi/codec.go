package main

/*
#include "redis_cache_go.h"
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/redis-cache-go/redis-cache-go/core/codec"
)

// codecConfig is the "codec" member of the configuration document: how
// values are compressed on the way to Redis and decoded on the way back.
type codecConfig struct {
	Compressor string `json:"compressor"` // codec.ParseFormat name; "" or "none": store as given
	Level      int    `json:"level"`      // 0: the compressor's default
	MinLen     int    `json:"min_len"`    // shorter values are stored uncompressed
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
	cd, err := codec.New(codec.Options{Format: f, Level: c.Level, MinLen: c.MinLen})
	if err != nil {
		return nil, err
	}
	return &valueCodec{codec: cd, decode: c.Decode == nil || *c.Decode}, nil
}

// encode returns the form of value to store.
func (v *valueCodec) encode(value []byte) ([]byte, error) { return v.codec.Encode(value) }

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
