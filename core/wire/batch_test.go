package wire

import (
	"bytes"
	"fmt"
	"testing"
)

func TestMGetEachMatchesMGet(t *testing.T) {
	s := startServer(t)
	p := New(Options{Addr: s.addr})
	defer p.Close()
	// Values of every size class: empty, small, ones that straddle read-buffer
	// refills (the reply is far longer than the buffer), exactly the buffer,
	// and longer than it; with misses in between.
	sizes := []int{0, 1, 117, 1000, 4093, readBufSize - 2, readBufSize - 1, readBufSize, readBufSize + 5, 100 << 10}
	var keys []string
	var vals [][]byte
	for r := 0; r < 3; r++ {
		for j, n := range sizes {
			k := fmt.Sprintf("k%d.%d", r, j)
			v := bytes.Repeat([]byte{byte('a' + j)}, n)
			if n > 0 {
				v[n-1] = '!'
			}
			keys, vals = append(keys, k), append(vals, v)
		}
		keys, vals = append(keys, fmt.Sprintf("missing%d", r)), append(vals, nil)
	}
	for i, k := range keys {
		if vals[i] != nil {
			if _, err := p.Set(k, vals[i], 0, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	want, err := p.MGet(keys)
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		got := make([][]byte, len(keys))
		last := -1
		err := p.MGetEach(keys, func(i int, v []byte) {
			if i <= last || got[i] != nil {
				t.Errorf("MGetEach called for index %d after %d", i, last)
			}
			last = i
			got[i] = append([]byte{}, v...)
		})
		if err != nil {
			t.Fatalf("MGetEach: %v", err)
		}
		for i := range keys {
			if (got[i] == nil) != (want[i] == nil) || !bytes.Equal(got[i], want[i]) || !bytes.Equal(got[i], vals[i]) {
				t.Fatalf("MGetEach %s: got %d bytes (nil %v); want %d bytes (nil %v)", keys[i], len(got[i]), got[i] == nil, len(want[i]), want[i] == nil)
			}
		}
	}
	// the connection is in step afterwards
	if v, ok, err := p.Get(keys[2]); err != nil || !ok || !bytes.Equal(v, vals[2]) {
		t.Fatalf("Get after MGetEach: got %q, %v, %v; want %q", v, ok, err, vals[2])
	}
	if err := p.MGetEach(nil, func(int, []byte) { t.Error("called for no keys") }); err != nil {
		t.Fatalf("MGetEach of no keys: %v", err)
	}
}

func BenchmarkMGetEach100(b *testing.B) {
	s := startServer(b)
	p := New(Options{Addr: s.addr})
	defer p.Close()
	keys := make([]string, 100)
	vals := make([][]byte, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
		vals[i] = bytes.Repeat([]byte("v"), 117)
	}
	if err := p.SetMany(keys, vals, 0); err != nil {
		b.Fatal(err)
	}
	dst := make([]byte, 0, 16<<10)
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		dst = dst[:0]
		if err := p.MGetEach(keys, func(_ int, v []byte) { dst = append(dst, v...) }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}
