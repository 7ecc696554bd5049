package djcache

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/redis-cache-go/redis-cache-go/core/shard"
)

// locationCase is one case of tests/fixtures/locations.json, the LOCATION
// cases the Python parser (tests/python/test_locations.py) checks too.
type locationCase struct {
	ID       string          `json:"id"`
	Note     string          `json:"note"`
	Location json.RawMessage `json:"location"`
	Options  struct {
		DB       *int   `json:"DB"`
		Password string `json:"PASSWORD"`
	} `json:"options"`
	DB   *int `json:"db"`
	Want *struct {
		Cluster []string        `json:"cluster"`
		Servers []fixtureServer `json:"servers"`
	} `json:"want"`
	Error   string   `json:"error"`
	Secrets []string `json:"secrets"`
}

// fixtureServer is a server in the fixture's schema; nil is null (absent).
type fixtureServer struct {
	Network              string   `json:"network"`
	Host                 *string  `json:"host"`
	Port                 *int     `json:"port"`
	Path                 *string  `json:"path"`
	DB                   int      `json:"db"`
	Username             *string  `json:"username"`
	Password             *string  `json:"password"`
	TLS                  bool     `json:"tls"`
	TLSVerify            *bool    `json:"tls_verify"`
	SocketTimeout        *float64 `json:"socket_timeout"`
	SocketConnectTimeout *float64 `json:"socket_connect_timeout"`
	RingName             *string  `json:"ring_name"`
}

func loadLocationCases(t *testing.T) []locationCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "tests", "fixtures", "locations.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []json.RawMessage `json:"cases"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	cases := make([]locationCase, len(doc.Cases))
	for i, raw := range doc.Cases {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields() // a field this test would not check is a mistake in the fixture
		if err := dec.Decode(&cases[i]); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
	}
	if len(cases) < 40 {
		t.Fatalf("got %d cases; want at least 40", len(cases))
	}
	return cases
}

// options builds Options from a case as a Go service copies its Django
// settings: LOCATION (a string split on ','), OPTIONS' DB and PASSWORD,
// and the top-level db, which wins over OPTIONS["DB"].
func (c locationCase) options(t *testing.T) Options {
	t.Helper()
	var o Options
	var one string
	if err := json.Unmarshal(c.Location, &one); err == nil {
		o.Location = SplitLocation(one)
	} else if err := json.Unmarshal(c.Location, &o.Location); err != nil {
		t.Fatalf("LOCATION %s: %v", c.Location, err)
	}
	if o.Location == nil {
		o.Location = []string{} // LOCATION [] is not the Go default (nil)
	}
	o.DB = c.Options.DB
	if c.DB != nil {
		o.DB = c.DB
	}
	o.Password = c.Options.Password
	return o
}

// secrets are the case's passwords: no message or description may show one.
func (c locationCase) secrets() []string {
	s := append([]string(nil), c.Secrets...)
	if c.Options.Password != "" {
		s = append(s, c.Options.Password)
	}
	if c.Want != nil {
		for _, w := range c.Want.Servers {
			if w.Password != nil {
				s = append(s, *w.Password)
			}
		}
	}
	return s
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Every case of tests/fixtures/locations.json: the servers, databases,
// credentials, TLS, timeouts and ring names Go derives from LOCATION are
// the Python package's, and so are the errors; no password is shown.
func TestLocationFixture(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range loadLocationCases(t) {
		if seen[c.ID] {
			t.Errorf("case %s: got it twice; want unique ids", c.ID)
		}
		seen[c.ID] = true
		t.Run(c.ID, func(t *testing.T) {
			if (c.Want == nil) == (c.Error == "") {
				t.Fatalf("got want %v and error %q; want exactly one", c.Want != nil, c.Error)
			}
			so, err := ShardOptions(c.options(t))
			var said []string
			if err != nil {
				said = append(said, err.Error())
				if c.Want != nil {
					t.Fatalf("got error %q; want %s", err, show(c.Want))
				}
				if !strings.Contains(err.Error(), c.Error) {
					t.Errorf("got error %q; want one containing %q", err, c.Error)
				}
			} else {
				if c.Want == nil {
					t.Fatalf("got servers %s; want an error containing %q", show(fixtureServers(t, so)), c.Error)
				}
				var cluster []string
				if len(so.Servers) > 0 && so.Servers[0].Topology != nil {
					cluster = so.Servers[0].Topology.Addrs
				}
				if !reflect.DeepEqual(cluster, c.Want.Cluster) {
					t.Errorf("got cluster %q; want %q", cluster, c.Want.Cluster)
				}
				got, want := fixtureServers(t, so), c.Want.Servers
				if cluster != nil {
					for i := range got {
						got[i].RingName = nil // one client on the cluster: no ring
					}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("got %s; want %s", show(got), show(want))
				}
				for _, o := range so.Servers {
					said = append(said, o.String())
				}
				said = append(said, so.Names...)
			}
			for _, secret := range c.secrets() {
				for _, text := range said {
					if strings.Contains(text, secret) {
						t.Errorf("got %q; want it without the password %q", text, secret)
					}
				}
			}
		})
	}
}

// fixtureServers maps the shard configuration to the fixture's schema.
func fixtureServers(t *testing.T, so shard.Options) []fixtureServer {
	t.Helper()
	out := make([]fixtureServer, len(so.Servers))
	for i, o := range so.Servers {
		s := fixtureServer{Network: o.Network, DB: o.DB, TLS: o.TLS != nil}
		if o.Network == "unix" {
			s.Path = &o.Addr
		} else {
			host, port, err := net.SplitHostPort(o.Addr)
			if err != nil {
				t.Fatalf("server %d: address %q: %v", i, o.Addr, err)
			}
			p, _ := strconv.Atoi(port)
			s.Host, s.Port = &host, &p
		}
		if o.Username != "" {
			s.Username = &o.Username
		}
		if o.Password != "" {
			s.Password = &o.Password
		}
		if o.TLS != nil {
			verify := !o.TLS.InsecureSkipVerify
			s.TLSVerify = &verify
		}
		if o.ReadTimeout != 0 {
			secs := o.ReadTimeout.Seconds()
			s.SocketTimeout = &secs
		}
		if o.DialTimeout != 0 {
			secs := o.DialTimeout.Seconds()
			s.SocketConnectTimeout = &secs
		}
		if i < len(so.Names) { // a cluster is one client: no ring, no names
			name := so.Names[i]
			s.RingName = &name
		}
		out[i] = s
	}
	return out
}
