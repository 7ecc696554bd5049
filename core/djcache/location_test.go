package djcache

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis-cache-go/redis-cache-go/core/shard"
)

type ringCase struct {
	ID       string `json:"id"`
	Settings struct {
		Location json.RawMessage `json:"LOCATION"`
		Options  struct {
			DB       *int   `json:"DB"`
			Password string `json:"PASSWORD"`
		} `json:"OPTIONS"`
		DB *int `json:"db"`
	} `json:"settings"`
	EffectiveDB int `json:"effective_db"`
	Servers     []struct {
		IdentifierRepr string `json:"identifier_repr"`
		Identifier     []any  `json:"identifier"`
	} `json:"servers"`
	ExpectedIndex []int `json:"expected_index"`
}

// options builds Options from a case's CACHES entry the way a Go service
// copies its Django settings.
func (rc ringCase) options(t *testing.T) Options {
	var o Options
	var one string
	if err := json.Unmarshal(rc.Settings.Location, &one); err == nil {
		o.Location = SplitLocation(one)
	} else if err := json.Unmarshal(rc.Settings.Location, &o.Location); err != nil {
		t.Fatal(err)
	}
	o.DB = rc.Settings.Options.DB
	if rc.Settings.DB != nil {
		o.DB = rc.Settings.DB
	}
	o.Password = rc.Settings.Options.Password
	return o
}

// Go derives the seed ring's node names, databases and placement from the
// same LOCATION settings as django-redis-cache: all 12 cases of
// ring_seed.json, every one of the 2,000 keys.
func TestLocationMatchesSeed(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "tests", "fixtures", "ring_seed.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Keys  []string   `json:"keys"`
		Cases []ringCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.Cases) != 12 {
		t.Fatalf("got %d cases; want 12", len(fx.Cases))
	}
	for _, rc := range fx.Cases {
		so, err := ShardOptions(rc.options(t))
		if err != nil {
			t.Errorf("case %s: %v", rc.ID, err)
			continue
		}
		for i, s := range rc.Servers {
			if so.Names[i] != s.IdentifierRepr {
				t.Errorf("case %s server %d: got name %s; want %s", rc.ID, i, so.Names[i], s.IdentifierRepr)
			}
			if db := int(s.Identifier[2].(float64)); so.Servers[i].DB != db {
				t.Errorf("case %s server %d: got db %d; want %d", rc.ID, i, so.Servers[i].DB, db)
			}
		}
		sc, err := shard.New(so)
		if err != nil {
			t.Fatalf("case %s: %v", rc.ID, err)
		}
		bad := 0
		for i, key := range fx.Keys {
			if got := sc.Locate(key); got != rc.ExpectedIndex[i] {
				bad++
				if bad < 3 {
					t.Errorf("case %s key %q: got server %d; want %d", rc.ID, key, got, rc.ExpectedIndex[i])
				}
			}
		}
		if bad > 0 {
			t.Errorf("case %s: %d of %d keys on another server", rc.ID, bad, len(fx.Keys))
		}
		_ = sc.Close()
	}
}

func TestParseEntry(t *testing.T) {
	tests := []struct {
		entry, network, addr, password, name string
		db                                   int
	}{
		{"127.0.0.1:6381", "tcp", "127.0.0.1:6381", "pw", "('127.0.0.1', 6381, 1, None)", 1},
		{" 10.0.0.1:7000", "tcp", "10.0.0.1:7000", "pw", "(' 10.0.0.1', 7000, 1, None)", 1},
		{"[::1]:6379", "tcp", "[::1]:6379", "pw", "('::1', 6379, 1, None)", 1},
		{"cachehost", "tcp", "cachehost:6379", "pw", "('cachehost', 6379, 1, None)", 1},
		{"/tmp/r.sock", "unix", "/tmp/r.sock", "pw", "(None, None, 1, '/tmp/r.sock')", 1},
		{"redis://:secret@Example.COM:6390/4", "tcp", "example.com:6390", "secret", "('example.com', 6390, 4, '')", 4},
		{"redis://localhost?db=9", "tcp", "localhost:6379", "pw", "('localhost', 6379, 9, '')", 9},
		{"redis://user@localhost/2", "tcp", "localhost:6379", "pw", "('localhost', 6379, 2, '')", 2},
		{"unix://:pw2@/tmp/s.sock?db=3", "unix", "/tmp/s.sock", "pw2", "('127.0.0.1', 6379, 3, '/tmp/s.sock')", 3},
		{"unix:///tmp/s.sock", "unix", "/tmp/s.sock", "pw", "('127.0.0.1', 6379, 1, '/tmp/s.sock')", 1},
		{"rediss://cache:6380", "tcp", "cache:6380", "pw", "('cache', 6380, 1, None)", 1},
	}
	for _, tc := range tests {
		s, err := parseEntry(tc.entry, 1, "pw")
		if err != nil {
			t.Errorf("%q: %v", tc.entry, err)
			continue
		}
		got := []any{s.opts.Network, s.opts.Addr, s.opts.Password, s.name, s.opts.DB}
		want := []any{tc.network, tc.addr, tc.password, tc.name, tc.db}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%q: got %v; want %v", tc.entry, got, want)
				break
			}
		}
	}
	for _, entry := range []string{"host:notaport", "host:0", "http://x", "redis://h?foo=1", "unix://", "redis://:pw@h:1/x", "u:pw@h:6379"} {
		_, err := parseEntry(entry, 1, "")
		if err == nil {
			t.Errorf("%q: got no error; want one", entry)
		} else if strings.Contains(err.Error(), ":pw@") {
			t.Errorf("%q: error shows the password: %v", entry, err)
		}
	}
}

// A LOCATION of redis+cluster:// entries opens one Redis Cluster client on
// database 0 (nothing connects until the first operation); Options.DB may
// say 0 but nothing else.
func TestOpenClusterLocation(t *testing.T) {
	for _, db := range []*int{nil, DB(0)} {
		c, err := OpenURL("redis+cluster://127.0.0.1:7000, redis+cluster://127.0.0.1:7001", Options{DB: db})
		if err != nil {
			t.Fatalf("DB %v: got %v; want no error", db, err)
		}
		if got, want := c.String(), "djcache redis cluster 127.0.0.1:7000,127.0.0.1:7001"; got != want {
			t.Errorf("got %q; want %q", got, want)
		}
		_ = c.Close()
	}
	if _, err := OpenURL("redis+cluster://127.0.0.1:7000", Options{DB: DB(2)}); err == nil || !strings.Contains(err.Error(), "only database 0") {
		t.Errorf("DB 2: got %v; want a Redis Cluster has only database 0", err)
	}
}
