package retry

import "testing"

func TestResendable(t *testing.T) {
	for _, tc := range []struct {
		args []any
		want bool
	}{
		// reads, as core/wire and go-redis spell them
		{[]any{"GET", "k"}, true},
		{[]any{"get", "k"}, true},
		{[]any{"MGET", "a", "b"}, true},
		{[]any{"exists", "k"}, true},
		{[]any{"pttl", "k"}, true},
		{[]any{"scan", uint64(0), "match", "p*", "count", int64(10)}, true},
		{[]any{"evalsha_ro", "0123", 1, "k"}, true},
		// idempotent writes
		{[]any{"SET", "k", []byte("v")}, true},
		{[]any{"set", "k", "v", "px", int64(1500)}, true},
		{[]any{"set", "k", "v", "ex", 3}, true},
		{[]any{"set", "k", "v", "keepttl"}, true},
		{[]any{"set", "k", "v", "px", int64(5), "xx"}, true},
		{[]any{"MSET", "a", "1", "b", "2"}, true},
		{[]any{"DEL", "k"}, true},
		{[]any{"unlink", "a", "b"}, true},
		{[]any{"pexpire", "k", int64(100)}, true},
		{[]any{"persist", "k"}, true},
		{[]any{"multi"}, true},
		{[]any{"exec"}, true},
		// a second run could apply twice or answer differently
		{[]any{"set", "k", "v", "nx"}, false},
		{[]any{"SET", "k", "v", "PX", int64(5), "NX"}, false},
		{[]any{"set", "k", "v", "get"}, false},
		{[]any{"set", "k", "v", "ifeq", "old"}, false},
		{[]any{"set", "k", "v", 7}, false}, // an option that is not a word: unknown
		{[]any{"set", "k"}, false},
		{[]any{"INCR", "k"}, false},
		{[]any{"incrby", "k", 5}, false},
		{[]any{"decrby", "k", 5}, false},
		{[]any{"EVALSHA", "0123", "1", "k", "1"}, false},
		{[]any{"eval", "return 1", 0}, false},
		{[]any{"setnx", "k", "v"}, false},
		{[]any{"msetnx", "a", "1"}, false},
		{[]any{"getdel", "k"}, false},
		{[]any{"rename", "a", "b"}, false},
		{[]any{"restore", "k", 0, "payload"}, false},
		{[]any{"lpush", "l", "x"}, false},
		{[]any{"no-such-command"}, false},
		{[]any{[]byte("GET"), "k"}, false},
		{nil, false},
	} {
		if got := Resendable(tc.args); got != tc.want {
			t.Errorf("Resendable(%v): got %v; want %v", tc.args, got, tc.want)
		}
	}
}

func TestEveryRuleIsLowerCaseAndKnown(t *testing.T) {
	for name, rule := range rules {
		if rule == Never || rule > PlainSet {
			t.Errorf("rules[%q] = %d; want Read, Idempotent or PlainSet (Never is the absence)", name, rule)
		}
		for _, ch := range name {
			if ch >= 'A' && ch <= 'Z' {
				t.Errorf("rules[%q]: names are looked up in lower case", name)
			}
		}
	}
}
