package ring

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

type seedFixture struct {
	Keys     []string `json:"keys"`
	KeySlots []uint32 `json:"key_slots"`
	Cases    []struct {
		ID      string `json:"id"`
		Servers []struct {
			Identifier     []any  `json:"identifier"`
			IdentifierRepr string `json:"identifier_repr"`
		} `json:"servers"`
		ExpectedIndex []int   `json:"expected_index"`
		Vnodes        [][]any `json:"vnodes"`
	} `json:"cases"`
}

type kidoFixture struct {
	Keys         []string `json:"keys"`
	KeyPositions []uint32 `json:"key_positions"`
	Cases        []struct {
		Name          string   `json:"name"`
		Labels        []string `json:"labels"`
		ExpectedLabel []string `json:"expected_label"`
		Points        [][]any  `json:"points"`
	} `json:"cases"`
}

func load(t testing.TB, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "tests", "fixtures", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
}

// identifierOf rebuilds the identifier text from the fixture's JSON list.
func identifierOf(t *testing.T, id []any) string {
	t.Helper()
	str := func(v any) *string {
		if v == nil {
			return nil
		}
		s := v.(string)
		return &s
	}
	var port *int
	if id[1] != nil {
		p := int(id[1].(float64))
		port = &p
	}
	return Identifier(str(id[0]), port, int(id[2].(float64)), str(id[3]))
}

func TestSeedRingMatchesFixture(t *testing.T) {
	var fx seedFixture
	load(t, "ring_seed.json", &fx)
	for i, key := range fx.Keys {
		if got := Slot(key); got != fx.KeySlots[i] {
			t.Fatalf("Slot(%q) = %d; want %d", key, got, fx.KeySlots[i])
		}
	}
	if len(fx.Cases) != 12 {
		t.Fatalf("ring_seed.json has %d cases; want 12", len(fx.Cases))
	}
	for _, c := range fx.Cases {
		t.Run(c.ID, func(t *testing.T) {
			names := make([]string, len(c.Servers))
			for i, s := range c.Servers {
				names[i] = identifierOf(t, s.Identifier)
				if names[i] != s.IdentifierRepr {
					t.Fatalf("server %d: Identifier = %s; want %s", i, names[i], s.IdentifierRepr)
				}
			}
			r, err := NewSeed(names, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.positions) != len(c.Vnodes) {
				t.Fatalf("%d virtual nodes; want %d", len(r.positions), len(c.Vnodes))
			}
			for i, v := range c.Vnodes {
				if r.positions[i] != uint32(v[0].(float64)) {
					t.Fatalf("vnode %d at %d; want %v (%v)", i, r.positions[i], v[0], v[3])
				}
			}
			if len(c.ExpectedIndex) != 2000 {
				t.Fatalf("%d expectations; want 2000", len(c.ExpectedIndex))
			}
			for i, key := range fx.Keys {
				if got := r.Locate(key); got != c.ExpectedIndex[i] {
					t.Errorf("Locate(%q) = %d; want %d", key, got, c.ExpectedIndex[i])
				}
			}
		})
	}
}

func TestKidoredisRingMatchesFixture(t *testing.T) {
	var fx kidoFixture
	load(t, "ring_kidoredis.json", &fx)
	for i, key := range fx.Keys {
		if got := KidoredisPosition(key); got != fx.KeyPositions[i] {
			t.Fatalf("KidoredisPosition(%q) = %d; want %d", key, got, fx.KeyPositions[i])
		}
	}
	if len(fx.Cases) != 3 {
		t.Fatalf("ring_kidoredis.json has %d cases; want 3", len(fx.Cases))
	}
	for _, c := range fx.Cases {
		t.Run(c.Name, func(t *testing.T) {
			labels := KidoredisLabels(len(c.Labels))
			for i := range labels {
				if labels[i] != c.Labels[i] {
					t.Fatalf("KidoredisLabels = %v; want %v", labels, c.Labels)
				}
			}
			r, err := NewKidoredis(labels, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.positions) != len(c.Points) {
				t.Fatalf("%d points; want %d", len(r.positions), len(c.Points))
			}
			for i, key := range fx.Keys {
				got := strconv.Itoa(r.Locate(key))
				if got != c.ExpectedLabel[i] {
					t.Errorf("Locate(%q) = %s; want %s", key, got, c.ExpectedLabel[i])
				}
			}
		})
	}
}

func TestEqualWeightsKeepPlacement(t *testing.T) {
	names := []string{"('a', 1, 0, None)", "('b', 2, 0, None)", "('c', 3, 0, None)"}
	cases := []struct {
		name    string
		weights []int
	}{{"ones", []int{1, 1, 1}}, {"threes", []int{3, 3, 3}}, {"sevens", []int{7, 7, 7}}}
	plainSeed, _ := NewSeed(names, nil)
	plainKido, _ := NewKidoredis(KidoredisLabels(3), nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := NewSeed(names, c.weights)
			if err != nil {
				t.Fatal(err)
			}
			k, err := NewKidoredis(KidoredisLabels(3), c.weights)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 5000; i++ {
				key := ":1:key" + strconv.Itoa(i)
				if s.Locate(key) != plainSeed.Locate(key) || k.Locate(key) != plainKido.Locate(key) {
					t.Fatalf("key %q moved with equal weights %v", key, c.weights)
				}
			}
		})
	}
}

func TestWeightsShiftShare(t *testing.T) {
	names := []string{"('a', 1, 0, None)", "('b', 2, 0, None)"}
	seed, _ := NewSeed(names, []int{3, 1})
	kido, _ := NewKidoredis(KidoredisLabels(2), []int{3, 1})
	for _, r := range []Ring{seed, kido} {
		counts := make([]int, 2)
		for i := 0; i < 20000; i++ {
			counts[r.Locate("k"+strconv.Itoa(i))]++
		}
		// weight 3 vs 1: about 75% on server 0; allow generous ring noise.
		if share := float64(counts[0]) / 20000; share < 0.6 || share > 0.9 {
			t.Errorf("%T: server 0 holds %.2f of the keys with weights 3:1; want about 0.75", r, share)
		}
	}
}

func TestBadWeights(t *testing.T) {
	cases := []struct {
		names   []string
		weights []int
	}{
		{[]string{"a", "b"}, []int{1}},
		{[]string{"a"}, []int{0}},
		{nil, nil},
	}
	for _, c := range cases {
		if _, err := NewSeed(c.names, c.weights); err == nil {
			t.Errorf("NewSeed(%v, %v): no error", c.names, c.weights)
		}
		if _, err := NewKidoredis(c.names, c.weights); err == nil {
			t.Errorf("NewKidoredis(%v, %v): no error", c.names, c.weights)
		}
	}
}

func TestPyRepr(t *testing.T) {
	cases := []struct{ in, want string }{
		{"127.0.0.1", `'127.0.0.1'`},
		{" 127.0.0.1", `' 127.0.0.1'`},
		{"", `''`},
		{"it's", `"it's"`},
		{`a'b"c`, `'a\'b"c'`},
		{`back\slash`, `'back\\slash'`},
		{"tab\tnl\ncr\r", `'tab\tnl\ncr\r'`},
		{"\x00\x1f\x7f", `'\x00\x1f\x7f'`},
		{"\u00a0\u00ad", `'\xa0\xad'`},
		{"été", `'été'`},
		{"\u2028", `'\u2028'`},
		{"\U000e0001", `'\U000e0001'`},
		{"日本😀", `'日本😀'`},
	}
	for _, c := range cases {
		if got := PyRepr(c.in); got != c.want {
			t.Errorf("PyRepr(%q) = %s; want %s", c.in, got, c.want)
		}
	}
}

func BenchmarkSeedLocate(b *testing.B) {
	r, _ := NewSeed([]string{"('a', 1, 0, None)", "('b', 2, 0, None)", "('c', 3, 0, None)"}, nil)
	for i := 0; b.Loop(); i++ {
		r.Locate(":1:key" + strconv.Itoa(i&1023))
	}
}

func BenchmarkKidoredisLocate(b *testing.B) {
	r, _ := NewKidoredis(KidoredisLabels(3), nil)
	for i := 0; b.Loop(); i++ {
		r.Locate("key" + strconv.Itoa(i&1023))
	}
}

func BenchmarkNewSeed(b *testing.B) {
	names := []string{"('a', 1, 0, None)", "('b', 2, 0, None)", "('c', 3, 0, None)"}
	for b.Loop() {
		_, _ = NewSeed(names, nil)
	}
}

func BenchmarkIdentifier(b *testing.B) {
	host, port, sock := "127.0.0.1", 6379, ""
	for b.Loop() {
		Identifier(&host, &port, 1, &sock)
	}
}
