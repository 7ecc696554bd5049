package ring

import "testing"

type djangoRedisFixture struct {
	Generator string   `json:"generator"`
	Keys      []string `json:"keys"`
	Cases     []struct {
		Name          string   `json:"name"`
		Servers       []string `json:"servers"`
		ExpectedIndex []int    `json:"expected_index"`
	} `json:"cases"`
}

func TestDjangoRedisRingMatchesFixture(t *testing.T) {
	var fx djangoRedisFixture
	load(t, "ring_django_redis.json", &fx)
	if len(fx.Cases) != 5 || len(fx.Keys) < 700 {
		t.Fatalf("ring_django_redis.json has %d cases and %d keys; want 5 and >= 700", len(fx.Cases), len(fx.Keys))
	}
	for _, c := range fx.Cases {
		t.Run(c.Name, func(t *testing.T) {
			r, err := NewDjangoRedis(c.Servers, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Len() != len(c.Servers) {
				t.Fatalf("Len() = %d; want %d", r.Len(), len(c.Servers))
			}
			for i, key := range fx.Keys {
				if got := r.Locate(key); got != c.ExpectedIndex[i] {
					t.Fatalf("Locate(%q) = %d; want %d (%s)", key, got, c.ExpectedIndex[i], fx.Generator)
				}
			}
		})
	}
}

func TestDjangoRedisTag(t *testing.T) {
	for _, c := range []struct{ key, want string }{
		{"plain", "plain"},
		{":1:{user42}:cart", "user42"},
		{"a{b}c{d}e", "d"},
		{"x{a}y}z{b", "a}y"},
		{"a}b{c", "a}b{c"},
		{"{}", ""},
		{"line\n{tag}", "line\n{tag}"},
		{"{tag}\nline", "tag"},
		{"{{a}}", "a}"},
	} {
		if got := DjangoRedisTag(c.key); got != c.want {
			t.Errorf("DjangoRedisTag(%q) = %q; want %q", c.key, got, c.want)
		}
	}
}

func TestDjangoRedisRefusesWeights(t *testing.T) {
	if _, err := NewDjangoRedis([]string{"a", "b"}, []int{1, 2}); err == nil {
		t.Fatal("NewDjangoRedis with weights 1,2: got nil error; want one")
	}
	if _, err := NewDjangoRedis([]string{"a", "b"}, []int{3, 3}); err != nil {
		t.Fatalf("NewDjangoRedis with equal weights: got %v; want nil", err)
	}
	if _, err := NewDjangoRedis(nil, nil); err == nil {
		t.Fatal("NewDjangoRedis without servers: got nil error; want one")
	}
}

func BenchmarkDjangoRedisLocate(b *testing.B) {
	r, err := NewDjangoRedis([]string{"redis://a:6379/0", "redis://b:6379/0", "redis://c:6379/0"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		r.Locate(":1:some-cache-key")
	}
}
