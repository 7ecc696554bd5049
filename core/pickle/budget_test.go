package pickle

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"testing"

	"github.com/redis-cache-go/redis-cache-go/internal/hostile"
)

// within is the memory a pickle of n bytes may take to decode.
func within(n int) uint64 { return 32*uint64(n) + 1<<20 }

// pickleOf frames ops as a protocol 4 pickle.
func pickleOf(ops ...[]byte) []byte {
	return append(append([]byte{0x80, 4}, bytes.Join(ops, nil)...), '.')
}

// sharedList is a list of n small ints, memoised as memo 0 (the way Python
// writes it: EMPTY_LIST, MEMOIZE, MARK, the ints, APPENDS).
func sharedList(n int) []byte {
	b := []byte{']', 0x94, '('}
	for i := 0; i < n; i++ {
		b = append(b, 'K', byte(i))
	}
	return append(b, 'e')
}

func longBinGets(memo uint32, n int) []byte {
	one := []byte{'j', 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(one[1:], memo)
	return bytes.Repeat(one, n)
}

func TestHostilePicklesStayWithinTheirBudget(t *testing.T) {
	// a(i+1) = [a(i), a(i)]: 2^60 values once expanded
	dag := []byte{']', 'q', 0}
	for i := 0; i < 60; i++ {
		dag = append(dag, ']', '(', 'h', byte(i), 'h', byte(i), 'e', 'q', byte(i+1))
	}
	cases := []struct {
		name    string
		data    []byte
		failing bool // must be refused (others may decode, within the budget)
	}{
		{"4 MB of MARKs", pickleOf(bytes.Repeat([]byte{'('}, 4<<20)), true},
		{"4 MB of MARKs, then None", pickleOf(bytes.Repeat([]byte{'('}, 4<<20), []byte{'N'}), false},
		{"600 KB of references to a 10k-item list", pickleOf(sharedList(10000), []byte{']', '('}, longBinGets(0, 120000), []byte{'e'}), true},
		{"a DAG of 2^60 values", pickleOf(dag), true},
		{"memo index 2^32-1", pickleOf([]byte{'N', 'r', 0xff, 0xff, 0xff, 0xff}), true},
		{"text memo index 10^11", append([]byte("Np99999999999\n"), '.'), true},
		{"1M empty lists", pickleOf([]byte{'('}, bytes.Repeat([]byte{']'}, 1<<20), []byte{'l'}), false},
		{"1M empty dicts, memoised", pickleOf([]byte{'('}, bytes.Repeat([]byte{'}', 0x94}, 1<<20), []byte{'l'}), false},
		{"1M empty tuples", pickleOf([]byte{'('}, bytes.Repeat([]byte{'(', 't'}, 1<<20), []byte{'l'}), false},
		{"a 100k-level nest", pickleOf(bytes.Repeat([]byte{']'}, 100001), bytes.Repeat([]byte{'a'}, 100000)), true},
		{"1M DUPs of a list", pickleOf([]byte{']', '('}, bytes.Repeat([]byte{'2'}, 1<<20), []byte{'l'}), false},
		{"a set of 100k references to one tuple", pickleOf([]byte{0x8f, '(', 'K', 1, 'K', 2, 0x86, 0x94}, bytes.Repeat([]byte{'h', 0}, 100000), []byte{0x90}), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			alloc := hostile.Allocated(func() { _, err = Decode(tc.data) })
			if tc.failing && err == nil {
				t.Fatalf("got no error; want one")
			}
			if alloc > within(len(tc.data)) {
				t.Fatalf("%d bytes of pickle took %d bytes to decode (error %v); want at most 32x + 1 MiB = %d", len(tc.data), alloc, err, within(len(tc.data)))
			}
		})
	}
}

// pythonDict is what pickle.dumps(d, 5) writes for a dict of n str keys
// ("key00001"...) to ints 1000+i: every key memoised, SETITEMS per 1000.
func pythonDict(n int) []byte {
	b := []byte{'}', 0x94}
	for i := 0; i < n; i++ {
		if i%1000 == 0 {
			if i > 0 {
				b = append(b, 'u')
			}
			b = append(b, '(')
		}
		k := "key" + strconv.Itoa(100000+i)
		b = append(append(append(b, 0x8c, byte(len(k))), k...), 0x94, 'M')
		b = binary.LittleEndian.AppendUint16(b, uint16(1000+i%60000))
	}
	return append(b, 'u')
}

func TestTypicalPicklesDecodeWellWithinTheBudget(t *testing.T) {
	ints := []byte{']', 0x94, '('}
	pairs := []byte{']', 0x94, '('}
	strs := []byte{']', 0x94, '('}
	floats := []byte{']', 0x94, '('}
	for i := 0; i < 100000; i++ {
		ints = append(ints, 'J')
		ints = binary.LittleEndian.AppendUint32(ints, uint32(i*7919))
		pairs = append(pairs, 'K', byte(i), 'M', byte(i), byte(i>>8), 0x86, 0x94)
		s := strconv.Itoa(i)
		strs = append(append(append(strs, 0x8c, byte(len(s))), s...), 0x94)
		floats = append(floats, 'G')
		floats = binary.BigEndian.AppendUint64(floats, uint64(i)<<40)
	}
	for name, data := range map[string][]byte{
		"dict of 50k str keys to ints": pickleOf(pythonDict(50000)),
		"list of 100k ints":            pickleOf(append(ints, 'e')),
		"list of 100k int pairs":       pickleOf(append(pairs, 'e')),
		"list of 100k short strings":   pickleOf(append(strs, 'e')),
		"list of 100k floats":          pickleOf(append(floats, 'e')),
	} {
		var v any
		var err error
		alloc := hostile.Allocated(func() { v, err = Decode(data) })
		if err != nil || v == nil {
			t.Errorf("%s: got %T, %v", name, v, err)
		}
		if alloc > within(len(data)) {
			t.Errorf("%s: %d bytes of pickle took %d bytes to decode; want at most 32x + 1 MiB = %d", name, len(data), alloc, within(len(data)))
		}
	}
}
