package nearcache

import (
	"net"
	"testing"
	"time"
)

// refused returns an address nothing listens on.
func refused(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestTrackedServers(t *testing.T) {
	a, b := refused(t), refused(t)
	cases := []struct {
		name        string
		servers     []Server
		do          func(c *Cache)
		wantTracked []string
	}{
		{"one server from the flat fields", nil, func(*Cache) {}, []string{"flat"}},
		{"IDs default to the address", []Server{{Addr: a}, {Addr: b}}, func(*Cache) {}, []string{a, b}},
		{"Track adds once", []Server{{ID: "0", Addr: a}}, func(c *Cache) { c.Track(Server{ID: "1", Addr: b}); c.Track(Server{ID: "1", Addr: b}) }, []string{"0", "1"}},
		{"Retain drops the rejected", []Server{{ID: "0", Addr: a}, {ID: "1", Addr: b}}, func(c *Cache) { c.Retain(func(id string) bool { return id == "1" }) }, []string{"1"}},
		{"Track after Close adds nothing", []Server{{ID: "0", Addr: a}}, func(c *Cache) { c.Close(); c.Track(Server{ID: "1", Addr: b}) }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Servers: tc.servers, PingInterval: 50 * time.Millisecond}
			if tc.servers == nil {
				o.Addr = a
			}
			c := New(o)
			defer c.Close()
			c.Get("k") // starts every tracker: none can confirm
			tc.do(c)
			got := c.Tracked()
			if tc.servers == nil && len(got) == 1 && got[0] == a {
				got = []string{"flat"}
			}
			if len(got) != len(tc.wantTracked) {
				t.Fatalf("tracked %v; want %v", got, tc.wantTracked)
			}
			for i := range got {
				if got[i] != tc.wantTracked[i] {
					t.Fatalf("tracked %v; want %v", got, tc.wantTracked)
				}
			}
			for _, id := range append(got, "unknown") {
				if tk := c.BeginFrom(id, "k"); tk.OK() || c.Fill(tk, "k", []byte("v"), -1) {
					t.Fatalf("%s: a fill was kept from a server whose tracking never confirmed", id)
				}
			}
			if st := c.Stats(); st.Tracking || st.Tracked != int64(len(got)) || st.TrackedUp != 0 {
				t.Fatalf("tracking=%v tracked=%d up=%d; want false, %d, 0", st.Tracking, st.Tracked, st.TrackedUp, len(got))
			}
		})
	}
}
