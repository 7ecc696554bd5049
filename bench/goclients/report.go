package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
)

// row is one client's figures in one workload: a statistic per round, and
// their median.
type row struct {
	Client string    `json:"client"`
	Rounds []float64 `json:"rounds"` // per round: the median of its samples, or its one figure
	Median float64   `json:"median"`
	// P99 per round (workloads with per-call samples) and their median.
	P99Rounds []float64 `json:"p99_rounds,omitempty"`
	P99       float64   `json:"p99,omitempty"`
	// Extra: a second figure per round (connections, dials), its median.
	ExtraRounds []float64 `json:"extra_rounds,omitempty"`
	Extra       float64   `json:"extra,omitempty"`
	// Ratio is Median / the base row's Median.
	Ratio float64 `json:"ratio"`
}

type workload struct {
	Name   string `json:"name"`
	Unit   string `json:"unit"`
	Better string `json:"better"` // "lower" or "higher"
	Base   string `json:"ratio_base"`
	Extra  string `json:"extra,omitempty"` // what Extra is
	Note   string `json:"note,omitempty"`
	Rows   []*row `json:"rows"`
	hasP99 bool
}

func (w *workload) add(client string, v, p99, extra float64) {
	i := slices.IndexFunc(w.Rows, func(r *row) bool { return r.Client == client })
	if i < 0 {
		w.Rows = append(w.Rows, &row{Client: client})
		i = len(w.Rows) - 1
	}
	r := w.Rows[i]
	r.Rounds = append(r.Rounds, v)
	if w.hasP99 {
		r.P99Rounds = append(r.P99Rounds, p99)
	}
	if w.Extra != "" {
		r.ExtraRounds = append(r.ExtraRounds, extra)
	}
}

// finish computes the medians and ratios, rows in the order given.
func (w *workload) finish(order []string) {
	slices.SortStableFunc(w.Rows, func(a, b *row) int {
		return slices.Index(order, a.Client) - slices.Index(order, b.Client)
	})
	var base float64
	for _, r := range w.Rows {
		r.Median = median(r.Rounds)
		r.P99 = median(r.P99Rounds)
		r.Extra = median(r.ExtraRounds)
		if r.Client == w.Base {
			base = r.Median
		}
	}
	for _, r := range w.Rows {
		if base > 0 {
			r.Ratio = r.Median / base
		}
	}
}

func median(xs []float64) float64 { return quantile(xs, 0.5) }

// quantile of xs (nearest rank on a sorted copy); 0 for no values.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if q == 0.5 && len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// machine describes where the run happened.
type machine struct {
	CPU          string `json:"cpu"`
	CPUs         int    `json:"cpus"`
	GOMAXPROCS   int    `json:"gomaxprocs"`
	Go           string `json:"go"`
	Redis        string `json:"redis"`
	Rueidis      string `json:"rueidis"`
	GoRedis      string `json:"go_redis"`
	UptimeBefore string `json:"uptime_before"`
	UptimeAfter  string `json:"uptime_after"`
	ThreadsAfter string `json:"os_threads_after"`
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// uptime is uptime(1)'s line, or /proc/loadavg when it is missing.
func uptime() string {
	if out, err := exec.Command("uptime").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	b, _ := os.ReadFile("/proc/loadavg")
	return "load average: " + strings.TrimSpace(string(b))
}

// osThreads is this process' thread count (/proc/self/status).
func osThreads() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// moduleVersion is a dependency's version as built in.
func moduleVersion(path string) string {
	if bi, ok := debugBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	return "?"
}

type report struct {
	Machine   machine     `json:"machine"`
	Rounds    int         `json:"rounds"`
	ValueSize int         `json:"value_size"`
	Keys      int         `json:"keys"`
	Notes     []string    `json:"notes"`
	Workloads []*workload `json:"workloads"`
}

func (r *report) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func (r *report) table(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "machine: %s, %d CPUs (GOMAXPROCS %d), %s, redis %s, rueidis %s, go-redis %s\n",
		m.CPU, m.CPUs, m.GOMAXPROCS, m.Go, m.Redis, m.Rueidis, m.GoRedis)
	fmt.Fprintf(w, "before: %s\nafter:  %s\n", m.UptimeBefore, m.UptimeAfter)
	fmt.Fprintf(w, "%d rounds, clients in rotating order; %d-byte values, %d distinct keys; OS threads at the end: %s\n",
		r.Rounds, r.ValueSize, r.Keys, m.ThreadsAfter)
	for _, wl := range r.Workloads {
		dir := "time ratio, < 1 is faster"
		if wl.Better == "higher" {
			dir = "throughput ratio, > 1 is more"
		}
		fmt.Fprintf(w, "\n== %s (%s; median of round figures) ==\n", wl.Name, wl.Unit)
		if wl.Note != "" {
			fmt.Fprintf(w, "   %s\n", wl.Note)
		}
		fmt.Fprintf(w, "%-34s %12s", "client", "median")
		if wl.hasP99 {
			fmt.Fprintf(w, " %12s", "p99")
		}
		fmt.Fprintf(w, " %14s", "x "+wl.Base)
		if wl.Extra != "" {
			fmt.Fprintf(w, "  %s", wl.Extra)
		}
		fmt.Fprintf(w, "\n")
		for _, rw := range wl.Rows {
			fmt.Fprintf(w, "%-34s %12s", rw.Client, num(rw.Median))
			if wl.hasP99 {
				fmt.Fprintf(w, " %12s", num(rw.P99))
			}
			fmt.Fprintf(w, " %14.2f", rw.Ratio)
			if wl.Extra != "" {
				fmt.Fprintf(w, "  %s", num(rw.Extra))
			}
			fmt.Fprintf(w, "\n")
		}
		fmt.Fprintf(w, "   (ratio: %s)\n", dir)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "\nnote: %s", n)
	}
	fmt.Fprintln(w)
}

func num(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 100:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
