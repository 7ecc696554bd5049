package nearcache

import (
	"strings"
	"testing"
	"time"
)

// TestSeveralServers covers one store fed from several tracked servers:
// which tickets may keep a value, and what a tracking change does to the
// entries and to fills in flight.
func TestSeveralServers(t *testing.T) {
	type step struct {
		do   string // "up X", "down X", "fill X key" (ticket taken and filled at once), "begin X key", "end key"
		want bool   // for fill/begin: ticket OK and stored; for end: stored
	}
	cases := []struct {
		name      string
		steps     []step
		wantCache []string // keys served at the end
		wantGone  []string // keys not served at the end
	}{
		{
			name:      "fills from every confirmed server",
			steps:     []step{{"up a", false}, {"up b", false}, {"fill a k1", true}, {"fill b k2", true}},
			wantCache: []string{"k1", "k2"},
		},
		{
			name:     "an unconfirmed server's reads are never kept",
			steps:    []step{{"up a", false}, {"fill b k1", false}, {"fill c k2", false}},
			wantGone: []string{"k1", "k2"},
		},
		{
			name:     "one server's loss flushes every entry",
			steps:    []step{{"up a", false}, {"up b", false}, {"fill a k1", true}, {"fill b k2", true}, {"down a", false}},
			wantGone: []string{"k1", "k2"},
		},
		{
			name:     "a fill in flight from one server is dropped by another's loss",
			steps:    []step{{"up a", false}, {"up b", false}, {"begin b k1", true}, {"down a", false}, {"end k1", false}},
			wantGone: []string{"k1"},
		},
		{
			name:      "after the loss the other servers fill again, the lost one does not",
			steps:     []step{{"up a", false}, {"up b", false}, {"down a", false}, {"fill b k1", true}, {"fill a k2", false}},
			wantCache: []string{"k1"},
			wantGone:  []string{"k2"},
		},
		{
			name:      "a server confirming keeps the entries",
			steps:     []step{{"up a", false}, {"fill a k1", true}, {"up b", false}, {"fill b k2", true}},
			wantCache: []string{"k1", "k2"},
		},
		{
			name:      "a server that never confirmed failing flushes nothing",
			steps:     []step{{"up a", false}, {"fill a k1", true}, {"down b", false}, {"down b", false}},
			wantCache: []string{"k1"},
		},
		{
			name:     "down and back up while in flight still drops the fill",
			steps:    []step{{"up a", false}, {"begin a k1", true}, {"down a", false}, {"up a", false}, {"end k1", false}},
			wantGone: []string{"k1"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(Options{TTL: time.Minute}.withDefaults())
			srcs := map[string]*source{"a": {}, "b": {}, "c": {}}
			tickets := map[string]Ticket{}
			for i, st := range c.steps {
				var op, server, key string
				n := 0
				for _, f := range strings.Fields(st.do) {
					switch n {
					case 0:
						op = f
					case 1:
						server = f
					case 2:
						key = f
					}
					n++
				}
				switch op {
				case "up":
					s.setUp(srcs[server])
				case "down":
					s.setDown(srcs[server])
				case "fill":
					tk := s.begin(srcs[server], key)
					if got := s.fill(tk, key, []byte("v"), -1); got != st.want {
						t.Fatalf("step %d %q: stored %v; want %v", i, st.do, got, st.want)
					}
				case "begin":
					tk := s.begin(srcs[server], key)
					if tk.OK() != st.want {
						t.Fatalf("step %d %q: ticket OK %v; want %v", i, st.do, tk.OK(), st.want)
					}
					tickets[key] = tk
				case "end":
					key = server
					if got := s.fill(tickets[key], key, []byte("v"), -1); got != st.want {
						t.Fatalf("step %d %q: stored %v; want %v", i, st.do, got, st.want)
					}
				default:
					t.Fatalf("bad step %q", st.do)
				}
			}
			for _, k := range c.wantCache {
				if _, ok := s.get(k); !ok {
					t.Errorf("%s: miss; want a hit", k)
				}
			}
			for _, k := range c.wantGone {
				if v, ok := s.get(k); ok {
					t.Errorf("%s: got %q; want a miss", k, v)
				}
			}
		})
	}
}
