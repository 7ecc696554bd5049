package ring

import (
	"fmt"
	"strings"
	"testing"
)

// growthRings builds each ring kind over n servers named as a site would
// write them: LOCATION "10.0.0.<i>:6379" entries (the seed ring's
// identifier tuples, django-redis' entries as written), kidoredis' labels.
var growthRings = []struct {
	name string
	make func(n int) (Ring, error)
}{
	{"seed", func(n int) (Ring, error) {
		names := make([]string, n)
		for i := range names {
			host, port := fmt.Sprintf("10.0.0.%d", i+1), 6379
			names[i] = Identifier(&host, &port, 1, nil)
		}
		return NewSeed(names, nil)
	}},
	{"django-redis", func(n int) (Ring, error) {
		names := make([]string, n)
		for i := range names {
			names[i] = fmt.Sprintf("redis://10.0.0.%d:6379/1", i+1)
		}
		return NewDjangoRedis(names, nil)
	}},
	{"kidoredis", func(n int) (Ring, error) { return NewKidoredis(KidoredisLabels(n), nil) }},
}

// TestRingGrowth measures, for rings of N = 1 … 8 servers gaining one, the
// fraction of 100,000 keys (Django's default keys ":1:key-<i>") whose
// server changes, against the ideal 1/(N+1), and checks that every key
// that moves goes to the new server (no key moves between old servers:
// what makes the in-place copy of docs/servers.md copy only those keys).
// `go test ./core/ring -run TestRingGrowth -v` prints the table.
func TestRingGrowth(t *testing.T) {
	const keys = 100_000
	var table strings.Builder
	fmt.Fprintf(&table, "\n| N → N+1 | ideal 1/(N+1) |")
	for _, r := range growthRings {
		fmt.Fprintf(&table, " %s |", r.name)
	}
	table.WriteString("\n| --- | --- |" + strings.Repeat(" --- |", len(growthRings)) + "\n")
	for n := 1; n <= 8; n++ {
		fmt.Fprintf(&table, "| %d → %d | %.3f |", n, n+1, 1/float64(n+1))
		for _, r := range growthRings {
			before, err := r.make(n)
			if err != nil {
				t.Fatal(err)
			}
			after, err := r.make(n + 1)
			if err != nil {
				t.Fatal(err)
			}
			moved := 0
			for i := 0; i < keys; i++ {
				k := fmt.Sprintf(":1:key-%d", i)
				was, is := before.Locate(k), after.Locate(k)
				if was == is {
					continue
				}
				moved++
				if is != n {
					t.Fatalf("%s ring %d→%d: %s moved from server %d to old server %d", r.name, n, n+1, k, was, is)
				}
			}
			frac := float64(moved) / keys
			if frac < 0.25/float64(n+1) || frac > 2.5/float64(n+1) {
				t.Errorf("%s ring %d→%d: %.3f of the keys moved; ideal %.3f", r.name, n, n+1, frac, 1/float64(n+1))
			}
			fmt.Fprintf(&table, " %.3f |", frac)
		}
		table.WriteString("\n")
	}
	t.Log(table.String())
}
