package expiry

import (
	"math"
	"testing"
	"time"
)

func TestOf(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want TTL
	}{
		{d: -time.Second, want: 0},
		{d: 0, want: 0},
		{d: time.Nanosecond, want: 1},
		{d: 1500 * time.Microsecond, want: 1},
		{d: time.Minute, want: 60_000},
		{d: math.MaxInt64, want: 9_223_372_036_854}, // about 292 years: no wrap
	}
	for _, tt := range tests {
		if got := Of(tt.d); got != tt.want {
			t.Errorf("Of(%v): got %d; want %d", tt.d, got, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		ttl    TTL
		wantOK bool
	}{
		{ttl: 0, wantOK: true},
		{ttl: 9_223_372_036_855, wantOK: true}, // past what a time.Duration holds
		{ttl: 1e12 * 1000, wantOK: true},       // 10**12 seconds
		{ttl: MaxMS, wantOK: true},
		{ttl: MaxMS + 1, wantOK: false},
		{ttl: math.MaxInt64, wantOK: false},
	}
	for _, tt := range tests {
		if got := tt.ttl.Check() == nil; got != tt.wantOK {
			t.Errorf("TTL(%d).Check() ok: got %v; want %v", tt.ttl, got, tt.wantOK)
		}
	}
}

func TestDurationSaturates(t *testing.T) {
	tests := []struct {
		ttl  TTL
		want time.Duration
	}{
		{ttl: 1500, want: 1500 * time.Millisecond},
		{ttl: 9_223_372_036_854, want: 9_223_372_036_854 * time.Millisecond},
		{ttl: 9_223_372_036_855, want: math.MaxInt64},
		{ttl: MaxMS, want: math.MaxInt64},
	}
	for _, tt := range tests {
		if got := tt.ttl.Duration(); got != tt.want {
			t.Errorf("TTL(%d).Duration(): got %v; want %v", tt.ttl, got, tt.want)
		}
	}
}
