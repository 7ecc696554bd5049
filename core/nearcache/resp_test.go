package nearcache

import (
	"bufio"
	"reflect"
	"strings"
	"testing"
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
	tr := newTracker(Options{}.withDefaults(), s)
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
