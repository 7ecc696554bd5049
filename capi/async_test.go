package main

import (
	"syscall"
	"testing"
)

// pipeQueue returns a queue that writes to a pipe, and the pipe's read end (non-blocking).
func pipeQueue(t testing.TB, inflight int) (*asyncq, int) {
	t.Helper()
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fds[0]) })
	asyncQueues.Add(1)
	asyncInflight.Add(int64(inflight))
	return &asyncq{fd: fds[1], inflight: inflight}, fds[0]
}

// wakes reads what the queue wrote to the pipe: the number of 8-byte wake-ups.
func wakes(t testing.TB, r int) int {
	t.Helper()
	buf := make([]byte, 4096)
	n, err := syscall.Read(r, buf)
	if err == syscall.EAGAIN {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return n / 8
}

func TestQueueWakesOnlyWhenItStopsBeingEmpty(t *testing.T) {
	tests := []struct {
		pushes    int
		wantWakes int
	}{
		{pushes: 1, wantWakes: 1},
		{pushes: 5, wantWakes: 1}, // coalesced: the caller drains everything at once
	}
	for _, tt := range tests {
		q, r := pipeQueue(t, tt.pushes)
		for i := 0; i < tt.pushes; i++ {
			q.push(completion{ticket: int64(i)})
		}
		if got := wakes(t, r); got != tt.wantWakes {
			t.Errorf("%d pushes: got %d wake-ups; want %d", tt.pushes, got, tt.wantWakes)
		}
		if got := len(q.done); got != tt.pushes {
			t.Errorf("got %d queued; want %d", got, tt.pushes)
		}
		q.mu.Lock()
		q.done = nil // a drain
		q.closed = true
		q.release()
		q.mu.Unlock()
	}
}

func TestClosedQueueDropsCompletionsAndClosesFdAfterTheLast(t *testing.T) {
	q, r := pipeQueue(t, 2)
	q.mu.Lock()
	q.closed = true // rcgx_async_close with two operations in flight
	q.mu.Unlock()
	q.push(completion{ticket: 1})
	if q.fd < 0 {
		t.Fatalf("got fd closed with an operation still in flight; want it open")
	}
	q.push(completion{ticket: 2})
	if q.fd >= 0 {
		t.Errorf("got fd %d open after the last completion; want closed", q.fd)
	}
	if len(q.done) != 0 {
		t.Errorf("got %d completions kept on a closed queue; want 0", len(q.done))
	}
	if got := wakes(t, r); got != 0 {
		t.Errorf("got %d wake-ups from a closed queue; want 0", got)
	}
}

func BenchmarkQueuePush(b *testing.B) {
	q, r := pipeQueue(b, b.N)
	buf := make([]byte, 4096)
	for i := 0; i < b.N; i++ {
		q.push(completion{ticket: int64(i), data: buf[:16]})
		if i%64 == 63 { // a drain every 64 completions
			q.mu.Lock()
			q.done = q.done[:0]
			q.mu.Unlock()
			_, _ = syscall.Read(r, buf)
		}
	}
	q.mu.Lock()
	q.closed = true
	q.release()
	q.mu.Unlock()
}

// A panic while a batch of GETs runs (here: a handle without a cache) fails
// each of them with the internal error, disables the handle, and queues
// every completion at once: one wake-up, nothing lost, no crash.
func TestBatchPanicFailsEachGetOnce(t *testing.T) {
	const n = 5
	q, r := pipeQueue(t, n)
	e := &entry{}
	batch := make([]job, n)
	for i := range batch {
		e.calls.Add(1)
		batch[i] = job{e: e, q: q, op: 1, ticket: int64(100 + i), x: args{a: []byte("k")}}
	}
	j := job{e: e, q: q, batch: batch}
	j.run()
	if got := wakes(t, r); got != 1 {
		t.Errorf("got %d wake-ups; want 1", got)
	}
	if len(q.done) != n {
		t.Fatalf("got %d completions; want %d", len(q.done), n)
	}
	for i, c := range q.done {
		if c.ticket != int64(100+i) || c.status != -9 || e.disabledMessage() == "" { // RCG_ERR_INTERNAL
			t.Errorf("completion %d: got ticket %d status %d (handle disabled: %v); want ticket %d, the internal error",
				i, c.ticket, c.status, e.disabledMessage() != "", 100+i)
		}
	}
	if got := e.calls.Load(); got != 0 {
		t.Errorf("calls on the handle after the batch: got %d; want 0", got)
	}
	q.mu.Lock()
	q.closed = true
	q.release()
	q.mu.Unlock()
}
