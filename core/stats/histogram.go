package stats

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// The histogram's buckets are log-linear over microseconds: one bucket per
// microsecond below 16 µs, then 8 buckets per power of two, so a bucket's
// width is at most 1/8 of its lower bound and a percentile read from it is
// within 12.5% of the true value. The last bucket also takes everything
// above about 67 s.
const (
	subBits  = 3
	subCount = 1 << subBits // buckets per power of two
	maxExp   = 26           // 2^26 µs ≈ 67 s
	// Buckets is the number of histogram buckets.
	Buckets = (maxExp - subBits + 2) * subCount
)

// Histogram counts durations in fixed buckets (see Buckets) plus their sum
// and maximum. The zero value is ready; it must not be copied after use.
type Histogram struct {
	counts [Buckets]atomic.Uint64
	sumNs  atomic.Uint64
	maxNs  atomic.Uint64
}

// bucket returns the index of the bucket holding us microseconds.
func bucket(us uint64) int {
	if us < 2*subCount {
		return int(us)
	}
	e := bits.Len64(us) - 1 // us >= 16: e >= 4
	if e > maxExp {
		return Buckets - 1
	}
	sub := int(us>>(e-subBits)) & (subCount - 1)
	return (e-subBits+1)*subCount + sub
}

// bounds returns bucket i's range in microseconds, [lo, hi).
func bounds(i int) (lo, hi uint64) {
	if i < 2*subCount {
		return uint64(i), uint64(i) + 1
	}
	e := i/subCount + subBits - 1
	sub := uint64(i % subCount)
	lo = (subCount + sub) << (e - subBits)
	return lo, lo + 1<<(e-subBits)
}

// Record counts one duration; a negative one counts as zero.
func (h *Histogram) Record(d time.Duration) {
	ns := uint64(max(d, 0))
	h.counts[bucket(ns/1000)].Add(1)
	h.sumNs.Add(ns)
	for {
		m := h.maxNs.Load()
		if ns <= m || h.maxNs.CompareAndSwap(m, ns) {
			return
		}
	}
}

// Latency is a histogram summary in microseconds. A percentile is the upper
// bound of the bucket it falls in (never more than Max), so it is at most
// 12.5% (or 1 µs) above the true value and never below it.
type Latency struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

// Latency reads the summary without stopping writers.
func (h *Histogram) Latency() Latency {
	var counts [Buckets]uint64
	var total uint64
	for i := range counts {
		counts[i] = h.counts[i].Load()
		total += counts[i]
	}
	l := Latency{Count: total, Max: float64(h.maxNs.Load()) / 1000}
	if total == 0 {
		return l
	}
	l.Mean = float64(h.sumNs.Load()) / 1000 / float64(total)
	l.P50 = percentile(&counts, total, 0.50, l.Max)
	l.P90 = percentile(&counts, total, 0.90, l.Max)
	l.P99 = percentile(&counts, total, 0.99, l.Max)
	l.P999 = percentile(&counts, total, 0.999, l.Max)
	return l
}

// percentile returns the upper bound (µs) of the bucket holding the q-th
// value, capped at maxUs.
func percentile(counts *[Buckets]uint64, total uint64, q, maxUs float64) float64 {
	rank := uint64(q*float64(total) + 0.999999) // ceil, at least 1
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, n := range counts {
		seen += n
		if seen >= rank {
			_, hi := bounds(i)
			return min(float64(hi), maxUs)
		}
	}
	return maxUs
}
