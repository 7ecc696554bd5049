// Command goclients compares Go Redis clients on a cache's read paths: our
// core/wire pool and core/client (what the C library calls), go-redis v9,
// and rueidis with and without auto-pipelining; and, for hot keys, rueidis'
// client-side caching (DoCache) against our near-cache (core/cache with
// LOCAL_CACHE). See README.md; `make bench-goclients` runs it on a
// throw-away redis-server.
//
//	go run . [-addr 127.0.0.1:6379] [-rounds 5] [-out results.json] [-quick]
//
// The server's data is overwritten under the keys gc:* and nc:*.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

const valueSize = 100

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "goclients: "+format+"\n", args...)
	os.Exit(1)
}

func debugBuildInfo() (*debug.BuildInfo, bool) { return debug.ReadBuildInfo() }

// sizes of one round's work.
type sizes struct {
	lone, batches100, batches1000, mget int
	loop, hits                          time.Duration
}

func main() {
	addr := flag.String("addr", os.Getenv("REDIS_ADDR"), "the Redis server, host:port (default $REDIS_ADDR)")
	rounds := flag.Int("rounds", 5, "rounds; each runs every workload on every client, in rotating order")
	out := flag.String("out", "results.json", "where the JSON results go")
	quick := flag.Bool("quick", false, "a short run (2 rounds, fewer calls) to check that everything works")
	nkeys := flag.Int("keys", 20000, "distinct keys populated")
	flag.Parse()
	if *addr == "" {
		fatalf("no server: give -addr or set REDIS_ADDR (make bench-goclients starts one)")
	}
	sz := sizes{lone: 3000, batches100: 40, batches1000: 10, mget: 500, loop: time.Second, hits: 300 * time.Millisecond}
	if *quick {
		*rounds = min(*rounds, 2)
		sz = sizes{lone: 300, batches100: 5, batches1000: 2, mget: 50, loop: 200 * time.Millisecond, hits: 50 * time.Millisecond}
	}

	rep := &report{Rounds: *rounds, ValueSize: valueSize, Keys: *nkeys}
	rep.Machine = machine{CPU: cpuModel(), CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		Go: runtime.Version(), Rueidis: moduleVersion("github.com/redis/rueidis"),
		GoRedis: moduleVersion("github.com/redis/go-redis/v9"), UptimeBefore: uptime()}

	mon, err := dialMonitor(*addr)
	if err != nil {
		fatalf("connecting to %s: %v", *addr, err)
	}
	defer mon.close()
	if rep.Machine.Redis, err = mon.info("server", "redis_version"); err != nil {
		fatalf("INFO server: %v", err)
	}
	fmt.Fprintf(os.Stderr, "goclients: %s, redis %s at %s; %s\n", rep.Machine.CPU, rep.Machine.Redis, *addr, rep.Machine.UptimeBefore)
	if err := populate(*addr, *nkeys); err != nil {
		fatalf("populating: %v", err)
	}

	// One long-lived instance per client for workloads 1, 2, 4 and 5;
	// workload 3 opens a fresh one per run to count its connections.
	shared := map[string]getter{}
	var names []string
	for _, k := range kinds {
		g, err := k.open(*addr)
		if err != nil {
			fatalf("%s: %v", k.name, err)
		}
		defer g.close()
		shared[k.name] = g
		names = append(names, k.name)
	}
	// rueidis runs a call on the caller's goroutine (write, then read the
	// reply) while its connection never saw two calls at once; the first
	// overlap starts a writer and a reader goroutine for that connection,
	// and every later call goes through them. The shared instance is put
	// in that state now, as any concurrently used client is; a second one,
	// only ever called sequentially, shows the other path in workload 1.
	g0 := runtime.NumGoroutine()
	if err := overlap(shared["rueidis auto"], 64); err != nil {
		fatalf("rueidis auto: %v", err)
	}
	g1 := runtime.NumGoroutine()
	const rueSync = "rueidis auto, never concurrent"
	seq, err := openRueidis(*addr, false)
	if err != nil {
		fatalf("%v", err)
	}
	defer seq.close()
	rep.Notes = append(rep.Notes, fmt.Sprintf("the shared 'rueidis auto' client was given 64 overlapping GETs before round 1: "+
		"goroutines %d -> %d (its per-connection writer/reader goroutines started; they stay for the connection's life). "+
		"'%s' is another instance only ever called from one goroutine (rueidis' synchronous path).", g0, g1, rueSync))

	nr, err := openNear(*addr, shared["rueidis auto"].(rueidisGetter).c, shared[baseline])
	if err != nil {
		fatalf("near-cache: %v", err)
	}
	defer nr.close()

	w1 := &workload{Name: "1. lone GET, 1 goroutine, sequential", Unit: "µs per call", Better: "lower", Base: baseline, hasP99: true,
		Note: "median and p99 of each round's calls; medians of the rounds"}
	w2a := &workload{Name: "2a. 100 concurrent GETs (start barrier)", Unit: "ms per batch", Better: "lower", Base: baseline, hasP99: true,
		Extra: "dials/batch", Note: "dials/batch: connections the server accepted per batch (INFO stats)"}
	w2b := &workload{Name: "2b. 1000 concurrent GETs (start barrier)", Unit: "ms per batch", Better: "lower", Base: baseline, hasP99: true,
		Extra: "dials/batch", Note: w2a.Note}
	w3 := &workload{Name: fmt.Sprintf("3. 8 goroutines, GET loop for %v", sz.loop), Unit: "ops/s", Better: "higher", Base: baseline,
		Extra: "peak conns", Note: "a fresh client per run; peak conns: most connected_clients during the run (sampled every 10 ms) less those before it opened"}
	w4a := &workload{Name: "4a. hot-key reads, 1 goroutine", Unit: "ns per call", Better: "lower", Base: nearRows[0],
		Note: "one key served from process memory (plain GET: a distinct key from the server each call, for scale)"}
	w4b := &workload{Name: "4b. hot-key reads, 8 goroutines", Unit: "wall ns per call, all goroutines", Better: "lower", Base: nearRows[0],
		Note: w4a.Note}
	w5 := &workload{Name: "5. MGET of 100 keys, 1 goroutine", Unit: "µs per call", Better: "lower", Base: baseline, hasP99: true}
	rep.Workloads = []*workload{w1, w2a, w2b, w3, w4a, w4b, w5}

	for r := 0; r < *rounds; r++ {
		order := rotate(names, r)
		fmt.Fprintf(os.Stderr, "goclients: round %d/%d, order %s\n", r+1, *rounds, strings.Join(order, ", "))

		for _, name := range rotate(append(slices.Clone(names), rueSync), r) {
			g := shared[name]
			if name == rueSync {
				g = seq
			}
			lat, err := lone(g, sz.lone)
			if err != nil {
				fatalf("lone GET, %s: %v", name, err)
			}
			w1.add(name, median(lat), quantile(lat, 0.99), 0)
		}
		for _, c := range []struct {
			w              *workload
			width, batches int
		}{{w2a, 100, sz.batches100}, {w2b, 1000, sz.batches1000}} {
			for _, name := range order {
				ms, dials, err := crowd(shared[name], mon, c.width, c.batches)
				if err != nil {
					fatalf("%d concurrent GETs, %s: %v", c.width, name, err)
				}
				c.w.add(name, median(ms), quantile(ms, 0.99), dials)
			}
		}
		for _, name := range order {
			k := kinds[slices.IndexFunc(kinds, func(k kind) bool { return k.name == name })]
			ops, conns, err := throughput(k, *addr, mon, 8, sz.loop)
			if err != nil {
				fatalf("8 goroutines, %s: %v", name, err)
			}
			w3.add(name, ops, 0, float64(conns))
		}
		for _, c := range []struct {
			w          *workload
			goroutines int
		}{{w4a, 1}, {w4b, 8}} {
			for _, row := range rotate(nearRows, r) {
				ns, err := nr.measure(row, c.goroutines, sz.hits)
				if err != nil {
					fatalf("hot-key reads: %v", err)
				}
				c.w.add(row, ns, 0, 0)
			}
		}
		for _, name := range order {
			lat, err := mgetLatency(shared[name], 100, sz.mget)
			if err != nil {
				fatalf("MGET, %s: %v", name, err)
			}
			w5.add(name, median(lat), quantile(lat, 0.99), 0)
		}
	}

	rowOrder := append(slices.Clone(names), rueSync)
	rowOrder = append(rowOrder, nearRows...)
	for _, w := range rep.Workloads {
		w.finish(rowOrder)
	}
	rep.Machine.UptimeAfter = uptime()
	rep.Machine.ThreadsAfter = osThreads()
	rep.table(os.Stdout)
	if err := rep.writeJSON(*out); err != nil {
		fatalf("writing %s: %v", *out, err)
	}
	fmt.Fprintf(os.Stderr, "goclients: wrote %s\n", *out)
}

func rotate(xs []string, r int) []string {
	r %= len(xs)
	return append(slices.Clone(xs[r:]), xs[:r]...)
}

// populate writes every key the workloads read: gc:NNNNNN and the hot keys,
// valueSize bytes each, without expiry.
func populate(addr string, n int) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	value := strings.Repeat("v", valueSize)
	keys = make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("gc:%06d", i)
	}
	for start := 0; start < n; start += 1000 {
		args := make([]any, 0, 2000)
		for _, k := range keys[start:min(start+1000, n)] {
			args = append(args, k, value)
		}
		if err := rdb.MSet(bg, args...).Err(); err != nil {
			return err
		}
	}
	return rdb.MSet(bg, oursHotKey, value, rueHotKey, value).Err()
}

// overlap runs width GETs at once, a few times over.
func overlap(g getter, width int) error {
	var wg sync.WaitGroup
	errs := make(chan error, width)
	for i := 0; i < width; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if err := check(g.get(next())); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
