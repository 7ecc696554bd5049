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

func TestWriter(t *testing.T) {
	tests := []struct {
		name        string
		buf         int // capacity of the given buffer
		items       [][]byte
		wantInPlace bool
	}{
		{"fits", 64, [][]byte{[]byte("a"), nil, []byte("ccc")}, true},
		{"no buffer", 0, [][]byte{[]byte("a"), nil}, false},
		{"head fits, items do not", 16, [][]byte{[]byte("a"), bytes.Repeat([]byte("b"), 100)}, false},
		{"all missing", 12, [][]byte{nil, nil}, true},
	}
	for _, tt := range tests {
		buf := make([]byte, tt.buf)
		w := NewWriter(buf, len(tt.items))
		for i := range tt.items {
			if tt.items[i] != nil {
				w.Put(i, tt.items[i])
			}
		}
		got, inPlace := w.Bytes()
		if inPlace != tt.wantInPlace {
			t.Errorf("%s: got in place %v; want %v", tt.name, inPlace, tt.wantInPlace)
		}
		items, err := Decode(got)
		if err != nil {
			t.Fatalf("%s: Decode: got error %v; want nil", tt.name, err)
		}
		for i := range tt.items {
			if !bytes.Equal(items[i], tt.items[i]) || (items[i] == nil) != (tt.items[i] == nil) {
				t.Errorf("%s: item %d: got %q; want %q", tt.name, i, items[i], tt.items[i])
			}
		}
	}
}

func TestKeysAndPairs(t *testing.T) {
	keys, err := Keys(Append(nil, [][]byte{[]byte("a"), {}, []byte("bc")}))
	if err != nil || len(keys) != 3 || keys[0] != "a" || keys[1] != "" || keys[2] != "bc" {
		t.Errorf("Keys: got %q, %v; want [a  bc], nil", keys, err)
	}
	ks, vs, err := Pairs(Append(nil, [][]byte{[]byte("k"), []byte("v"), []byte("k2"), {}}))
	if err != nil || len(ks) != 2 || ks[1] != "k2" || string(vs[0]) != "v" || vs[1] == nil {
		t.Errorf("Pairs: got %q %q, %v; want [k k2] [v ''], nil", ks, vs, err)
	}
	bad := []struct {
		name string
		f    func() error
	}{
		{"Keys with a missing key", func() error { _, err := Keys(Append(nil, [][]byte{nil})); return err }},
		{"Keys of a truncated frame", func() error { _, err := Keys([]byte{1, 0}); return err }},
		{"Pairs of an odd count", func() error { _, _, err := Pairs(Append(nil, [][]byte{[]byte("k")})); return err }},
		{"Pairs with a missing value", func() error {
			_, _, err := Pairs(Append(nil, [][]byte{[]byte("k"), nil}))
			return err
		}},
	}
	for _, b := range bad {
		if err := b.f(); err == nil {
			t.Errorf("%s: got nil error; want one", b.name)
		}
	}
}

func BenchmarkWriter100(b *testing.B) {
	buf := make([]byte, 64<<10)
	v := bytes.Repeat([]byte("v"), 100)
	for b.Loop() {
		w := NewWriter(buf, 100)
		for i := 0; i < 100; i++ {
			w.Put(i, v)
		}
		w.Bytes()
	}
}

func BenchmarkKeys100(b *testing.B) {
	items := make([][]byte, 100)
	for i := range items {
		items[i] = []byte("prefix:1:key-number-" + string(rune('a'+i%26)))
	}
	buf := Append(nil, items)
	for b.Loop() {
		if _, err := Keys(buf); err != nil {
			b.Fatal(err)
		}
	}
}
