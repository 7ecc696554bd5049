package nearcache

import (
	"bufio"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/redis-cache-go/redis-cache-go/internal/hostile"
)

func TestReadValue(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want any
	}{
		{"simple", "+OK\r\n", "OK"},
		{"error", "-ERR no\r\n", respError("ERR no")},
		{"bulk error", "!5\r\nERR x\r\n", respError("ERR x")},
		{"int", ":42\r\n", int64(42)},
		{"null", "_\r\n", nil},
		{"nil bulk", "$-1\r\n", nil},
		{"bulk", "$3\r\na\r\n\r\n", []byte("a\r\n")},
		{"map", "%1\r\n$2\r\nid\r\n:7\r\n", []any{[]byte("id"), int64(7)}},
		{"invalidate keys", ">2\r\n$10\r\ninvalidate\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n", push{[]byte("invalidate"), []any{[]byte("a"), []byte("b")}}},
		{"invalidate all", ">2\r\n$10\r\ninvalidate\r\n_\r\n", push{[]byte("invalidate"), nil}},
		{"attribute skipped", "|1\r\n+k\r\n+v\r\n:1\r\n", int64(1)},
		{"double and bool", "*2\r\n,1.5\r\n#t\r\n", []any{"1.5", "t"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readValue(bufio.NewReader(strings.NewReader(c.in)))
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %#v; want %#v", got, c.want)
			}
		})
	}
}

func TestReadValueRejectsGarbage(t *testing.T) {
	for _, in := range []string{"", "\r\n", "?x\r\n", "+OK\n", "$5\r\nab", ":x\r\n", "$999999999999\r\n"} {
		if _, err := readValue(bufio.NewReader(strings.NewReader(in))); err == nil {
			t.Errorf("readValue(%q) = nil error; want one", in)
		}
	}
}

func TestApplyPush(t *testing.T) {
	s, _ := testStore(Options{})
	tr := newTracker(Server{}.withDefaults(), Options{}.withDefaults(), s)
	put(s, "a", "1", -1)
	put(s, "b", "2", -1)
	tr.apply(push{[]byte("invalidate"), []any{[]byte("a")}})
	if _, ok := s.get("a"); ok {
		t.Fatal("a still cached after its invalidation")
	}
	if _, ok := s.get("b"); !ok {
		t.Fatal("b dropped by a's invalidation")
	}
	tr.apply(push{[]byte("invalidate"), nil})
	if st := s.stats(); st.Entries != 0 {
		t.Fatalf("entries = %d after a null invalidation; want 0", st.Entries)
	}
}

func BenchmarkReadInvalidation(b *testing.B) {
	msg := ">2\r\n$10\r\ninvalidate\r\n*1\r\n$12\r\nprefix:1:key\r\n"
	r := bufio.NewReader(strings.NewReader(strings.Repeat(msg, b.N)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := readValue(r); err != nil {
			b.Fatal(err)
		}
	}
}

// truncated sends head, then body bytes of filler, then ends.
type truncated struct{ left int }

func (r *truncated) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.left)
	for i := range p[:n] {
		p[i] = 'x'
	}
	r.left -= n
	return n, nil
}

func TestReadValueRefusesHostileReplies(t *testing.T) {
	cases := []struct {
		name string
		r    io.Reader
	}{
		{"20M nested arrays", &hostile.Endless{Chunk: "*1\r\n"}},
		{"20M nested pushes", &hostile.Endless{Chunk: ">1\r\n"}},
		{"20M nested maps", &hostile.Endless{Chunk: "%1\r\n+k\r\n"}},
		{"endless attributes", &hostile.Endless{Chunk: "|0\r\n"}},
		{"array above 512 Mi items", &hostile.Endless{Head: "*536870913\r\n", Chunk: "_\r\n"}},
		{"map above 512 Mi pairs", &hostile.Endless{Head: "%536870913\r\n", Chunk: "_\r\n"}},
		{"bulk above 512 MiB three levels deep", strings.NewReader(">1\r\n*1\r\n*1\r\n$9999999999\r\n")},
		{"bulk length overflowing int64", strings.NewReader("$9999999999999999999\r\n")},
		{"array length overflowing int64", strings.NewReader("*9999999999999999999\r\n")},
		{"negative bulk length other than -1", strings.NewReader("$-2\r\n")},
		{"negative array length other than -1", strings.NewReader("*-2\r\n")},
		{"500 MiB bulk declared, 100 KiB sent", io.MultiReader(strings.NewReader("$524288000\r\n"), &truncated{left: 100 << 10})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			alloc := hostile.Allocated(func() { _, err = readValue(bufio.NewReaderSize(c.r, 16<<10)) })
			if err == nil {
				t.Fatalf("got no error; want one")
			}
			if alloc > 1<<20 {
				t.Fatalf("allocated %d bytes before failing; want under 1 MiB", alloc)
			}
		})
	}
}

func TestReadValueReadsDeepestAllowedAndLargeBulks(t *testing.T) {
	in := strings.Repeat("*1\r\n", maxDepth) + ":7\r\n"
	v, err := readValue(bufio.NewReader(strings.NewReader(in)))
	for i := 0; i < maxDepth && err == nil; i++ {
		items, ok := v.([]any)
		if !ok || len(items) != 1 {
			t.Fatalf("level %d: got %#v", i, v)
		}
		v = items[0]
	}
	if err != nil || v != int64(7) {
		t.Fatalf("%d nested arrays: got %#v, %v; want 7 inside", maxDepth, v, err)
	}
	big := strings.Repeat("ab", 300<<10)
	v, err = readValue(bufio.NewReader(strings.NewReader("$" + strconv.Itoa(len(big)) + "\r\n" + big + "\r\n")))
	if b, ok := v.([]byte); err != nil || !ok || string(b) != big {
		t.Fatalf("a %d-byte bulk: got %d bytes, %v", len(big), len(b), err)
	}
}

// TestReadValueKeepsTypeAcrossBufferRefills reads pushes much larger than
// the reader's buffer: the aggregate's type must be the one its header
// declared even after its items made the reader refill (and overwrite) the
// buffer the header was read from. (It was read again from the buffer: a
// push then came back as a plain array and its invalidations were dropped.)
func TestReadValueKeepsTypeAcrossBufferRefills(t *testing.T) {
	var in strings.Builder
	const pushes, keys = 50, 40
	for p := 0; p < pushes; p++ {
		in.WriteString(">2\r\n$10\r\ninvalidate\r\n*" + strconv.Itoa(keys) + "\r\n")
		for k := 0; k < keys; k++ {
			key := "key:" + strconv.Itoa(p*keys+k)
			in.WriteString("$" + strconv.Itoa(len(key)) + "\r\n" + key + "\r\n")
		}
		in.WriteString("*1\r\n+x\r\n") // an array after each push, for its type byte
	}
	r := bufio.NewReaderSize(strings.NewReader(in.String()), 16) // bufio's smallest buffer
	for p := 0; p < pushes; p++ {
		v, err := readValue(r)
		if err != nil {
			t.Fatalf("push %d: error %v", p, err)
		}
		got, ok := v.(push)
		if !ok || len(got) != 2 {
			t.Fatalf("push %d: got %T %v; want a push of 2 items", p, v, v)
		}
		if items, _ := got[1].([]any); len(items) != keys {
			t.Fatalf("push %d: got %d keys; want %d", p, len(items), keys)
		}
		v, err = readValue(r)
		if _, isPush := v.(push); err != nil || isPush {
			t.Fatalf("array after push %d: got %T %v, %v; want an array", p, v, v, err)
		}
	}
}
