package frame

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		name  string
		items [][]byte
	}{
		{"empty batch", [][]byte{}},
		{"one item", [][]byte{[]byte("a")}},
		{"empty item", [][]byte{{}}},
		{"missing item", [][]byte{nil}},
		{"mixed", [][]byte{[]byte("key"), nil, {}, bytes.Repeat([]byte{0xff}, 300)}},
		{"binary", [][]byte{{0, 0, 0, 0}, {0xff, 0xff, 0xff, 0xff}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			buf := Append(nil, tc.items)
			if got, want := len(buf), Size(tc.items); got != want {
				t.Fatalf("encoded length: got %d; want %d", got, want)
			}
			got, err := Decode(buf)
			if err != nil {
				t.Fatalf("Decode: got error %v; want nil", err)
			}
			if len(got) != len(tc.items) {
				t.Fatalf("items: got %d; want %d", len(got), len(tc.items))
			}
			for i := range got {
				if (got[i] == nil) != (tc.items[i] == nil) || !bytes.Equal(got[i], tc.items[i]) {
					t.Errorf("item %d: got %q (nil=%v); want %q (nil=%v)", i, got[i], got[i] == nil, tc.items[i], tc.items[i] == nil)
				}
			}
		})
	}
}

func u32(n uint32) []byte { return binary.LittleEndian.AppendUint32(nil, n) }

func TestDecodeRejectsMalformed(t *testing.T) {
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases := []struct {
		name string
		buf  []byte
	}{
		{"nil", nil},
		{"short count", []byte{1, 0}},
		{"count without items", u32(1)},
		{"huge count", u32(0xFFFFFFF0)},
		{"length past end", cat(u32(1), u32(5), []byte("abc"))},
		{"second length past end", cat(u32(2), u32(1), u32(9), []byte("ab"))},
		{"trailing bytes", cat(u32(1), u32(1), []byte("ab"))},
		{"missing length", cat(u32(2), u32(0))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := Decode(tc.buf); err == nil {
				t.Fatalf("Decode(%x): got %q, nil error; want an error", tc.buf, got)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Append(nil, [][]byte{[]byte("a"), nil, {}}))
	f.Add([]byte{})
	f.Add(u32(3))
	f.Fuzz(func(t *testing.T, buf []byte) {
		items, err := Decode(buf)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to the same bytes.
		if again := Append(nil, items); !bytes.Equal(again, buf) {
			t.Fatalf("re-encoding differs: got %x; want %x", again, buf)
		}
	})
}

func BenchmarkDecode100(b *testing.B) {
	items := make([][]byte, 100)
	for i := range items {
		items[i] = bytes.Repeat([]byte("k"), 20)
	}
	buf := Append(nil, items)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPut100(b *testing.B) {
	items := make([][]byte, 100)
	for i := range items {
		items[i] = bytes.Repeat([]byte("v"), 100)
	}
	dst := make([]byte, Size(items))
	for b.Loop() {
		Put(dst, items)
	}
}
