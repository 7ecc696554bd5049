package protect

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// reasons are the refusals Open gives; every error it returns wraps one.
var reasons = []error{ErrUnprotected, ErrMode, ErrUnknownKey, ErrTruncated, ErrForged}

// reasonOf returns the one reason err wraps, or nil when it wraps none or
// more than one.
func reasonOf(err error) error {
	var found error
	for _, r := range reasons {
		if errors.Is(err, r) {
			if found != nil {
				return nil
			}
			found = r
		}
	}
	return found
}

// fuzzProtectors returns a Protector of each mode (secrets "new", "old"),
// sign and encrypt first, then the same accepting unprotected values.
func fuzzProtectors(t testing.TB) []*Protector {
	var ps []*Protector
	for _, accept := range []bool{false, true} {
		for _, m := range modes {
			ps = append(ps, newP(t, m, accept, "new", "old"))
		}
	}
	return ps
}

// fuzzSeeds adds sealed values of both modes and both secrets, under a few
// key names, to f through add.
func fuzzSeeds(t testing.TB, add func(payload []byte, name string, sealed []byte)) {
	for _, m := range modes {
		for _, secrets := range [][]string{{"new"}, {"old"}} {
			p := newP(t, m, false, secrets...)
			for _, name := range []string{"", ":1:k", "ключ"} {
				for _, payload := range []string{"", "x", pickle, "12345678901234567890123"} {
					add([]byte(payload), name, p.Seal(nil, name, []byte(payload)))
				}
			}
		}
	}
}

// FuzzOpen: Open never panics on any stored bytes and key name, refuses
// with exactly one of the Err* reasons and nothing else, and never changes
// its input. What it accepts is either a value without the header handed
// back as it is (Raw, or AcceptUnprotected), or exactly what Seal writes:
// for Sign the payload is stored[9:len-32] and sealing it again under the
// same name with the secret of its key id gives stored back; for Encrypt
// the plaintext is as long as stored less the overhead. Seeds:
// testdata/fuzz/FuzzOpen (sealed values, their prefixes, plain values).
func FuzzOpen(f *testing.F) {
	ps := fuzzProtectors(f)
	bySecret := map[[4]byte]*Protector{} // by key id, to seal again
	for _, s := range []string{"new", "old"} {
		q := newP(f, Sign, false, s)
		bySecret[[4]byte(q.Seal(nil, "", nil)[5:HeaderLen])] = q
	}
	fuzzSeeds(f, func(_ []byte, name string, sealed []byte) {
		f.Add(sealed, name)
		f.Add(sealed[:len(sealed)/2], name)
	})
	for _, v := range []string{"", "\xC1", "\xC1RCG", "\xC1RCGs\x00\x00\x00\x00", pickle, "-12", "1.5"} {
		f.Add([]byte(v), "k")
	}
	f.Fuzz(func(t *testing.T, stored []byte, name string) {
		in := bytes.Clone(stored)
		for _, p := range ps {
			got, err := p.Open(nil, name, in)
			if !bytes.Equal(in, stored) {
				t.Fatalf("%v: Open changed its input to %q; want %q", p.Mode(), in, stored)
			}
			if err != nil {
				if got != nil || reasonOf(err) == nil {
					t.Fatalf("%v: Open = %q, %v; want nil and an error wrapping one reason", p.Mode(), got, err)
				}
				continue
			}
			if !Is(stored) {
				if !bytes.Equal(got, stored) || !(Raw(stored) || p.accept) {
					t.Fatalf("%v (accepting %v): Open(%q) = %q; want a refusal, or Raw input as is", p.Mode(), p.accept, stored, got)
				}
				continue
			}
			switch p.Mode() {
			case Sign:
				q := bySecret[[4]byte(stored[5:HeaderLen])]
				if len(stored) < p.Overhead() || !bytes.Equal(got, stored[HeaderLen:len(stored)-SignTag]) {
					t.Fatalf("sign: Open(%q) = %q; want stored[9:len-32]", stored, got)
				}
				if q == nil || !bytes.Equal(q.Seal(nil, name, got), stored) {
					t.Fatalf("sign: Open(%q) accepted a value Seal would not write", stored)
				}
			case Encrypt:
				if stored[4] != 'e' || len(got) != len(stored)-p.Overhead() {
					t.Fatalf("encrypt: Open(%q) = %d bytes; want %d", stored, len(got), len(stored)-p.Overhead())
				}
			}
		}
	})
}

// Mutations FuzzMutate applies to a sealed value.
const (
	mutFlip     = iota // xor the byte at an index with a mask
	mutTruncate        // keep the first n bytes
	mutAppend          // append bytes
	mutRename          // open under another key name
	mutCount
)

// FuzzMutate: a value sealed under a name, changed in one way (a byte
// flipped, cut short, bytes appended, opened under another name), does not
// open, with the reason the change calls for; unchanged, it opens.
// Seeds: testdata/fuzz/FuzzMutate.
func FuzzMutate(f *testing.F) {
	ps := fuzzProtectors(f)[:2] // not accepting: a changed magic must be refused
	fuzzSeeds(f, func(payload []byte, name string, _ []byte) {
		for op := range byte(mutCount) {
			f.Add(payload, name, op, uint32(7), byte(1), "x")
		}
	})
	f.Fuzz(func(t *testing.T, payload []byte, name string, op byte, at uint32, mask byte, extra string) {
		if Raw(payload) {
			return // stored as it is, readable by anyone: nothing to tamper with
		}
		for _, p := range ps {
			sealed := p.Seal(nil, name, payload)
			v, vname := bytes.Clone(sealed), name
			want := []error{ErrForged} // what Open may answer; nil: the payload
			switch op % mutCount {
			case mutFlip:
				i := int(at % uint32(len(v)))
				v[i] ^= mask
				switch {
				case mask == 0:
					want = nil
				case i >= 5 && i < HeaderLen: // another configured secret's key id is ErrForged
					want = append(want, ErrUnknownKey)
				case i < HeaderLen:
					want = []error{headerFlip[i]}
				}
			case mutTruncate:
				n := int(at % uint32(len(v)+1))
				v = v[:n]
				switch {
				case n == len(sealed):
					want = nil
				case n < len(Magic):
					want = []error{ErrUnprotected}
				case n < p.Overhead():
					want = []error{ErrTruncated}
				}
			case mutAppend:
				v = append(v, extra...)
				if extra == "" {
					want = nil
				}
			case mutRename:
				vname = extra
				if extra == name {
					want = nil
				}
			}
			got, err := p.Open(nil, vname, v)
			if want == nil {
				if err != nil || !bytes.Equal(got, payload) {
					t.Fatalf("%v: unchanged value: Open = %q, %v; want %q", p.Mode(), got, err, payload)
				}
				continue
			}
			if r := reasonOf(err); err == nil || !slices.Contains(want, r) {
				t.Fatalf("%v: mutation %d (at %d, mask %#x, %q) of %q: Open = %q, %v; want one of %v",
					p.Mode(), op%mutCount, at, mask, extra, sealed, got, err, want)
			}
		}
	})
}
