package cache

import (
	"bytes"
	"testing"
)

// A read of a protected value borrows a pooled buffer to open it into; a
// signed value's payload (and an accepted unprotected or plain-int value)
// is a slice of the stored bytes instead, which herd's flights may still
// hand to other callers. Such a slice must never go into the pool, where
// the next getBuf would write over the stored value.
func TestOpeningNeverPoolsTheStoredMemory(t *testing.T) {
	decode := true
	tests := []struct {
		name   string
		prot   Protection
		stored func(v *values) []byte
	}{
		{"signed", Protection{Mode: "sign", Secrets: []string{"s"}},
			func(v *values) []byte { return v.guard.Seal(nil, "k", bytes.Repeat([]byte("payload "), 64)) }},
		{"encrypted", Protection{Mode: "encrypt", Secrets: []string{"s"}},
			func(v *values) []byte { return v.guard.Seal(nil, "k", bytes.Repeat([]byte("payload "), 64)) }},
		{"accepted unprotected", Protection{Mode: "sign", Secrets: []string{"s"}, AcceptUnprotected: true},
			func(*values) []byte { return bytes.Repeat([]byte("plain "), 64) }},
		{"plain int", Protection{Mode: "encrypt", Secrets: []string{"s"}},
			func(*values) []byte { return append(make([]byte, 0, 512), "12345"...) }},
	}
	for _, tt := range tests {
		v, err := (&Codec{Decode: &decode}).values()
		if err != nil {
			t.Fatal(err)
		}
		if v.guard, _, err = tt.prot.protection(); err != nil {
			t.Fatal(err)
		}
		v.rejected = func(string, error) error { return nil }
		stored := tt.stored(v)
		want := bytes.Clone(stored)
		for i := range 50 {
			var dst Buffer
			ok, err := v.put(&dst, "k", stored)
			valid := v.valid("k", stored)
			b := getBuf() // a later user of the pool writes all over its buffer
			*b = append((*b)[:0], bytes.Repeat([]byte{0xEE}, cap(*b))...)
			putBuf(b, *b)
			if !bytes.Equal(stored, want) {
				t.Errorf("%s: round %d: got the stored value overwritten through a pooled buffer; want it untouched", tt.name, i)
				break
			}
			if !ok || err != nil || !valid || !bytes.Equal(dst.B, v.payload(t, stored)) {
				t.Errorf("%s: round %d: got put %v, %v, valid %v; want the payload, nil, true", tt.name, i, ok, err, valid)
				break
			}
		}
	}
}

// payload is what opening stored gives, on fresh memory.
func (v *values) payload(t *testing.T, stored []byte) []byte {
	t.Helper()
	p, err := v.guard.Open(nil, "k", bytes.Clone(stored))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
