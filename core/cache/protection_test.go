package cache

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/expiry"
	"github.com/redis-cache-go/redis-cache-go/core/protect"
	"github.com/redis-cache-go/redis-cache-go/internal/redistest"
)

// protected returns a Config with Protection in mode, secrets as given.
func protected(mode string, secrets ...string) Config {
	return Config{Protection: &Protection{Mode: mode, Secrets: secrets}}
}

// A value nobody with the secret wrote never comes back, through any read.
func TestProtectedReadsRejectForeignValues(t *testing.T) {
	srv := redistest.Start(t)
	pickle := "\x80\x05\x95\x05\x00\x00\x00\x00\x00\x00\x00\x8c\x01x\x94."
	for _, mode := range []string{"sign", "encrypt"} {
		t.Run(mode, func(t *testing.T) {
			srv.Do(t, "FLUSHALL")
			var mu sync.Mutex
			var logged []Rejection
			cfg := protected(mode, "current")
			cfg.OnReject = func(r Rejection) { mu.Lock(); logged = append(logged, r); mu.Unlock() }
			c := open(t, srv, cfg)
			set(t, c, "good", pickle)
			sealed := srv.Do(t, "GET", "good")
			if !protect.Is([]byte(sealed)) {
				t.Fatalf("stored %q; want a protected value", sealed)
			}
			foreign := map[string]string{
				"plain":     pickle,
				"moved":     sealed, // valid for "good" only
				"truncated": sealed[:len(sealed)-1],
				"flipped":   sealed[:12] + string(sealed[12]^1) + sealed[13:],
			}
			for k, v := range foreign {
				srv.Do(t, "SET", k, v)
				if got, ok := get(t, c, k); ok {
					t.Errorf("Get(%q) = %q; want a miss", k, got)
				}
			}
			var found []int
			keys := []string{"good", "plain", "moved", "truncated", "flipped"}
			if err := c.GetMany(ctx, keys, func(i int, v []byte) { found = append(found, i) }); err != nil {
				t.Fatal(err)
			}
			if len(found) != 1 || found[0] != 0 {
				t.Errorf("GetMany found %v; want only index 0", found)
			}
			var b Buffer
			tk, err := c.Ask(ctx, "plain", 0, &b)
			if err != nil || tk == nil {
				t.Fatalf("Ask on a foreign value: got ticket %v, error %v; want a ticket to compute", tk, err)
			}
			if err := tk.Publish(ctx, []byte("computed"), 0, 0); err != nil {
				t.Fatal(err)
			}
			if got, _ := get(t, c, "plain"); got != "computed" {
				t.Errorf("after Publish: got %q; want computed", got)
			}
			mu.Lock()
			n := len(logged)
			mu.Unlock()
			if n != len(foreign) { // one line per key, however often it was read
				t.Errorf("logged %d rejections; want %d (one per key): %v", n, len(foreign), logged)
			}
			if got := c.Stats()[0].Rejected; got < uint64(len(foreign)) {
				t.Errorf("Stats().Rejected = %d; want at least %d", got, len(foreign))
			}
		})
	}
}

func TestProtectedRaiseAndRotation(t *testing.T) {
	srv := redistest.Start(t)
	old := open(t, srv, protected("sign", "old"))
	set(t, old, "k", "value")
	rotated := open(t, srv, protected("sign", "new", "old"))
	if got, ok := get(t, rotated, "k"); !ok || got != "value" {
		t.Errorf("after rotation with the old secret kept: got %q, %v; want value", got, ok)
	}
	cfg := protected("sign", "new")
	cfg.Protection.Errors = "raise"
	strict := open(t, srv, cfg)
	var b Buffer
	_, err := strict.Get(ctx, "k", &b)
	var rejected *RejectedError
	if !errors.As(err, &rejected) || rejected.Key != "k" {
		t.Fatalf("Get without the old secret, errors raise: got %v; want a *RejectedError for k", err)
	}
	if !strings.Contains(err.Error(), protect.ErrUnknownKey.Error()) {
		t.Errorf("error %q; want the reason %q", err, protect.ErrUnknownKey)
	}
	// Reinsert re-seals under the current secret; a second run changes nothing.
	if n, err := rotated.Reinsert(ctx, "*", 0); n != 1 || err != nil {
		t.Fatalf("Reinsert: got %d, %v; want 1, nil", n, err)
	}
	if got, ok := get(t, strict, "k"); !ok || got != "value" {
		t.Errorf("after Reinsert, the new secret alone: got %q, %v; want value", got, ok)
	}
	if n, err := rotated.Reinsert(ctx, "*", 0); n != 0 || err != nil {
		t.Errorf("second Reinsert: got %d, %v; want 0, nil", n, err)
	}
}

func TestProtectedRenameAndInts(t *testing.T) {
	srv := redistest.Start(t)
	for _, mode := range []string{"sign", "encrypt"} {
		srv.Do(t, "FLUSHALL")
		c := open(t, srv, Config{Protection: &Protection{Mode: mode, Secrets: []string{"s"}}, Codec: &Codec{Compressor: "zstd"}})
		big := strings.Repeat("compressible ", 1000)
		if ok, err := c.Set(ctx, "a", []byte(big), expiry.Of(time.Hour), false); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if ok, err := c.Rename(ctx, "a", "b"); !ok || err != nil {
			t.Fatalf("%s: Rename: got %v, %v; want true, nil", mode, ok, err)
		}
		if got, ok := get(t, c, "b"); !ok || got != big {
			t.Errorf("%s: after Rename: got %d bytes, %v; want the value", mode, len(got), ok)
		}
		if ttl, ok, _ := c.TTL(ctx, "b"); !ok || ttl <= 0 {
			t.Errorf("%s: after Rename: TTL %d, %v; want the TTL kept", mode, ttl, ok)
		}
		set(t, c, "n", "41")
		if raw := srv.Do(t, "GET", "n"); raw != "41" {
			t.Errorf("%s: an int is stored as %q; want 41 (raw, so INCR works)", mode, raw)
		}
		if v, ok, err := c.Incr(ctx, "n", 1); v != 42 || !ok || err != nil {
			t.Errorf("%s: Incr: got %d, %v, %v; want 42", mode, v, ok, err)
		}
		if got, _ := get(t, c, "n"); got != "42" {
			t.Errorf("%s: got %q; want 42", mode, got)
		}
	}
}

func TestAcceptUnprotectedAndReinsert(t *testing.T) {
	srv := redistest.Start(t)
	plain := open(t, srv, Config{})
	set(t, plain, "old", "written before the rollout")
	cfg := protected("encrypt", "s")
	cfg.Protection.AcceptUnprotected = true
	rollout := open(t, srv, cfg)
	if got, ok := get(t, rollout, "old"); !ok || got != "written before the rollout" {
		t.Errorf("AcceptUnprotected: got %q, %v; want the plain value", got, ok)
	}
	if n, err := rollout.Reinsert(ctx, "*", 0); n != 1 || err != nil {
		t.Fatalf("Reinsert: got %d, %v; want 1, nil", n, err)
	}
	if n, _ := rollout.Reinsert(ctx, "*", 0); n != 0 {
		t.Errorf("second Reinsert rewrote %d encrypted values; want 0", n)
	}
	strict := open(t, srv, protected("encrypt", "s"))
	if got, ok := get(t, strict, "old"); !ok || got != "written before the rollout" {
		t.Errorf("after Reinsert, without AcceptUnprotected: got %q, %v; want the value", got, ok)
	}
	if raw := srv.Do(t, "GET", "old"); bytes.Contains([]byte(raw), []byte("rollout")) {
		t.Errorf("encrypted value %q shows its plaintext", raw)
	}
}

func TestProtectionConfigErrors(t *testing.T) {
	const secret = "topsecret-7f3a"
	for _, p := range []Protection{{Mode: "bogus", Secrets: []string{secret}}, {Mode: "sign"}, {Mode: "sign", Secrets: []string{secret, ""}},
		{Mode: "sign", Secrets: []string{secret}, Errors: "ignore"}, {Mode: "", Secrets: []string{secret}}} {
		_, err := Open(Config{Protection: &p})
		if err == nil {
			t.Errorf("Open with %+v: got nil error; want one", p)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q shows the secret", err)
		}
	}
}

// Reads of protected values, compressed and not, from many goroutines each
// get their own value intact (values pools its scratch buffers; a signed
// payload is a view of the reply, which the pool must not keep).
func TestProtectedReadsKeepTheirValuesApart(t *testing.T) {
	srv := redistest.Start(t)
	for _, mode := range []string{"sign", "encrypt"} {
		c := open(t, srv, Config{Protection: &Protection{Mode: mode, Secrets: []string{"s"}}, Codec: &Codec{Compressor: "zlib"}})
		want := make([]string, 40)
		for i := range want {
			want[i] = strings.Repeat(string(rune('a'+i%26))+mode, 200+i*37)
			set(t, c, mode+string(rune('A'+i)), want[i])
			set(t, c, mode+"small"+string(rune('A'+i)), "\x80tiny"+want[i][:i+1]) // read as stored: a view of the reply
		}
		var wg sync.WaitGroup
		errs := make(chan string, 8)
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var b Buffer
				for n := 0; n < 300; n++ {
					i := (n*7 + g) % len(want)
					if ok, err := c.Get(ctx, mode+"small"+string(rune('A'+i)), &b); !ok || err != nil || string(b.B) != "\x80tiny"+want[i][:i+1] {
						errs <- "small value corrupted"
						return
					}
					if ok, err := c.Get(ctx, mode+string(rune('A'+i)), &b); !ok || err != nil || string(b.B) != want[i] {
						errs <- "compressed value corrupted"
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Errorf("%s: %s", mode, e)
		}
	}
}
