package nearcache

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// tracker owns the tracking connection: it connects, confirms CLIENT
// TRACKING, applies invalidation pushes to the store, checks the connection
// with PING, and on any failure flushes the store and reconnects with
// backoff.
type tracker struct {
	o        Server
	every    time.Duration // Options.PingInterval
	prefix   string        // Options.Prefix
	s        *store
	src      *source // this server's state in the store
	stop     chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	conn     net.Conn // the live connection, for close to interrupt
	started  bool
	connects atomic.Int64
	failures atomic.Int64
	id       atomic.Int64
	lastErr  atomic.Pointer[string]
}

const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
)

func newTracker(o Server, opts Options, s *store) *tracker {
	return &tracker{o: o, every: opts.PingInterval, prefix: opts.Prefix, s: s, src: &source{},
		stop: make(chan struct{}), done: make(chan struct{})}
}

func (t *tracker) start() {
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.stop:
		return // closed before it started
	default:
	}
	t.started = true
	go t.run()
}

func (t *tracker) close() {
	t.mu.Lock()
	select {
	case <-t.stop:
	default:
		close(t.stop)
	}
	if t.conn != nil {
		_ = t.conn.Close()
	}
	started := t.started
	t.mu.Unlock()
	if started {
		<-t.done
	}
}

func (t *tracker) stopped() bool {
	select {
	case <-t.stop:
		return true
	default:
		return false
	}
}

func (t *tracker) run() {
	defer close(t.done)
	backoff := minBackoff
	for !t.stopped() {
		confirmed, err := t.session()
		t.id.Store(0)
		t.s.setDown(t.src) // keep nothing from this server until tracking is confirmed again
		if t.stopped() {
			return
		}
		if err != nil {
			msg := err.Error()
			t.lastErr.Store(&msg)
			t.failures.Add(1)
		}
		if confirmed {
			backoff = minBackoff
		}
		select {
		case <-t.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (t *tracker) dial() (net.Conn, error) {
	// close() must not wait out a dial to a silent server: stop cancels it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-t.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	d := net.Dialer{Timeout: t.o.DialTimeout, KeepAlive: 15 * time.Second}
	conn, err := d.DialContext(ctx, t.o.Network, t.o.Addr)
	if err != nil {
		return nil, err
	}
	if t.o.TLS != nil {
		cfg := t.o.TLS
		if cfg.ServerName == "" && !cfg.InsecureSkipVerify && t.o.Network == "tcp" {
			// verify the certificate against the host we dialled, as go-redis does
			cfg = cfg.Clone()
			cfg.ServerName, _, _ = net.SplitHostPort(t.o.Addr)
		}
		tc := tls.Client(conn, cfg)
		_ = tc.SetDeadline(time.Now().Add(t.o.DialTimeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return nil, err
		}
		conn = tc
	}
	return conn, nil
}

// session runs one tracking connection until it fails or the tracker
// stops; confirmed reports whether tracking was established.
func (t *tracker) session() (confirmed bool, err error) {
	conn, err := t.dial()
	if err != nil {
		return false, fmt.Errorf("tracking connection to %s: %w", t.o.Addr, err)
	}
	t.mu.Lock()
	if t.stopped() {
		t.mu.Unlock()
		_ = conn.Close()
		return false, nil
	}
	t.conn = conn
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.conn = nil
		t.mu.Unlock()
		_ = conn.Close()
	}()
	r := bufio.NewReaderSize(conn, 16<<10)
	if err := t.handshake(conn, r); err != nil {
		return false, fmt.Errorf("tracking connection to %s: %w", t.o.Addr, err)
	}
	t.s.setUp(t.src) // fetches from this server may be kept from now on
	t.connects.Add(1)
	pinger := make(chan struct{})
	defer close(pinger)
	go t.ping(conn, pinger)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(t.every + t.o.ReadTimeout))
		v, err := readValue(r)
		if err != nil {
			return true, fmt.Errorf("tracking connection to %s lost: %w", t.o.Addr, err)
		}
		switch x := v.(type) {
		case push:
			t.apply(x)
		case respError:
			return true, fmt.Errorf("tracking connection to %s: %w", t.o.Addr, x)
		}
	}
}

// handshake switches to RESP3 (authenticating) and turns on BCAST tracking.
func (t *tracker) handshake(conn net.Conn, r *bufio.Reader) error {
	_ = conn.SetDeadline(time.Now().Add(t.o.DialTimeout))
	defer conn.SetDeadline(time.Time{})
	hello := []string{"HELLO", "3"}
	if t.o.Password != "" {
		user := t.o.Username
		if user == "" {
			user = "default"
		}
		hello = append(hello, "AUTH", user, t.o.Password)
	}
	track := []string{"CLIENT", "TRACKING", "ON", "BCAST"}
	if t.prefix != "" {
		track = append(track, "PREFIX", t.prefix)
	}
	if _, err := conn.Write(appendCommand(appendCommand(nil, hello...), track...)); err != nil {
		return err
	}
	v, err := readValue(r)
	if err != nil {
		return err
	}
	if e, ok := v.(respError); ok {
		return fmt.Errorf("HELLO 3 (Redis 6 or later is needed): %w", e)
	}
	fields, _ := v.([]any)
	for i := 0; i+1 < len(fields); i += 2 {
		if k, _ := text(fields[i]); k == "id" {
			if id, ok := fields[i+1].(int64); ok {
				t.id.Store(id)
			}
		}
	}
	v, err = readValue(r)
	if err != nil {
		return err
	}
	if s, _ := v.(string); s != "OK" {
		return fmt.Errorf("CLIENT TRACKING ON BCAST: %v", v)
	}
	return nil
}

// apply handles one push: an invalidation of keys, or of everything.
func (t *tracker) apply(p push) {
	if len(p) < 2 {
		return
	}
	if kind, _ := text(p[0]); kind != "invalidate" {
		return
	}
	items, ok := p[1].([]any)
	if !ok { // null: FLUSHDB / FLUSHALL (or the server's tracking table overflowed)
		t.s.flush()
		return
	}
	keys := make([]string, 0, len(items))
	for _, it := range items {
		if k, ok := text(it); ok {
			keys = append(keys, k)
		}
	}
	t.s.invalidate(keys)
}

// ping writes a PING every PingInterval until done is closed; the reader's
// deadline catches a connection that stops answering.
func (t *tracker) ping(conn net.Conn, done chan struct{}) {
	cmd := appendCommand(nil, "PING")
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			_ = conn.SetWriteDeadline(time.Now().Add(t.o.ReadTimeout))
			if _, err := conn.Write(cmd); err != nil {
				_ = conn.Close() // the reader sees it and reconnects
				return
			}
		}
	}
}
