package main

import (
	"bytes"
	"testing"

	"github.com/redis-cache-go/redis-cache-go/core/codec"
)

func TestParseCodecOf(t *testing.T) {
	tests := []struct {
		doc       string
		format    codec.Format
		level     int
		minLen    int
		decode    bool
		wantError bool
	}{
		{doc: `{}`, format: codec.None, decode: true},
		{doc: `{"codec": null}`, format: codec.None, decode: true},
		{doc: `{"codec": {"compressor": "zlib"}}`, format: codec.Zlib, level: 6, decode: true},
		{doc: `{"codec": {"compressor": "zstd", "level": 19, "min_len": 16}}`, format: codec.Zstd, level: 19, minLen: 16, decode: true},
		{doc: `{"codec": {"compressor": "none", "decode": false}}`, format: codec.None},
		{doc: `{"codec": {"compressor": "brotli"}}`, wantError: true},
		{doc: `{"codec": {"compressor": "zlib", "level": 10}}`, wantError: true},
		{doc: `{"codec": {"compressor": "zlib", "min_len": -1}}`, wantError: true},
		{doc: `{"codec": {"compresor": "zlib"}}`, wantError: true},
	}
	for _, tt := range tests {
		vc, err := parseCodecOf([]byte(tt.doc))
		if tt.wantError {
			if err == nil {
				t.Errorf("parseCodecOf(%s) = nil error; want an error", tt.doc)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseCodecOf(%s): got error %v; want nil", tt.doc, err)
			continue
		}
		o := vc.codec.Options()
		if o.Format != tt.format || o.Level != tt.level || o.MinLen != tt.minLen || vc.decode != tt.decode {
			t.Errorf("parseCodecOf(%s) = %v level %d min %d decode %v; want %v level %d min %d decode %v",
				tt.doc, o.Format, o.Level, o.MinLen, vc.decode, tt.format, tt.level, tt.minLen, tt.decode)
		}
	}
}

func TestConfigAcceptsTheCodecMember(t *testing.T) {
	if _, err := parseConfig([]byte(`{"addr":"h:1","codec":{"compressor":"lz4"}}`)); err != nil {
		t.Fatalf("parseConfig with a codec member: got %v; want nil", err)
	}
}

func TestDecodeValuePassesThroughWhatIsNotAStream(t *testing.T) {
	vc, _ := parseCodecOf([]byte(`{"codec": {"compressor": "zlib"}}`))
	for _, stored := range [][]byte{[]byte("x^2 + y^2\n...\n"), []byte("42"), []byte("\x80\x05N.")} {
		if got := vc.decodeValue(stored); !bytes.Equal(got, stored) {
			t.Errorf("decodeValue(%q) = %q; want it unchanged", stored, got)
		}
	}
	enc, _ := vc.encode(bytes.Repeat([]byte("ab"), 100))
	if got := vc.decodeValue(enc); !bytes.Equal(got, bytes.Repeat([]byte("ab"), 100)) {
		t.Errorf("decodeValue(encode(v)) = %q; want v", got)
	}
	off, _ := parseCodecOf([]byte(`{"codec": {"decode": false}}`))
	if got := off.decodeValue(enc); !bytes.Equal(got, enc) {
		t.Errorf("decodeValue with decode off changed the value")
	}
}
