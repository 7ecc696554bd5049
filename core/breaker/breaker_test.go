package breaker

import (
	"testing"
	"time"
)

func TestOpensAfterFailuresAndClosesOnSuccess(t *testing.T) {
	now := time.Unix(1000, 0)
	b := New(Options{Failures: 3, Cooldown: time.Second})
	b.now = func() time.Time { return now }
	for i := 0; i < 2; i++ {
		b.Record(true)
		if b.Allow() != nil {
			t.Fatalf("open after %d failures, want 3", i+1)
		}
	}
	b.Record(true)
	if b.Allow() != ErrOpen {
		t.Fatal("not open after 3 consecutive failures")
	}
	now = now.Add(time.Second) // cool-down over: half-open
	if b.Allow() != nil {
		t.Fatal("still open after the cool-down")
	}
	b.Record(true) // the trial call fails: open again
	if b.Allow() != ErrOpen {
		t.Fatal("a failed trial call must reopen the breaker")
	}
	now = now.Add(time.Second)
	b.Record(false)
	if b.Allow() != nil || b.run != 0 {
		t.Fatal("a success must close the breaker")
	}
}

func TestSuccessResetsTheRun(t *testing.T) {
	b := New(Options{Failures: 2})
	b.Record(true)
	b.Record(false)
	b.Record(true)
	if b.Open() {
		t.Fatal("failures that are not consecutive opened the breaker")
	}
}

func TestDisabledAndDefaults(t *testing.T) {
	b := New(Options{Failures: -1})
	for i := 0; i < 100; i++ {
		b.Record(true)
	}
	if b.Open() {
		t.Fatal("a disabled breaker opened")
	}
	d := New(Options{})
	if d.failures != DefaultFailures || d.cooldown != DefaultCooldown {
		t.Fatalf("defaults: %d %v", d.failures, d.cooldown)
	}
}
