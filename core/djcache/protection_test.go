package djcache

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/cache"
	"github.com/redis-cache-go/redis-cache-go/core/codec"
	"github.com/redis-cache-go/redis-cache-go/core/expiry"
	"github.com/redis-cache-go/redis-cache-go/core/pickle"
	"github.com/redis-cache-go/redis-cache-go/core/protect"
	"github.com/redis-cache-go/redis-cache-go/internal/fixturevalues"
)

var modes = []string{"sign", "encrypt"}

// planted is CPython's pickle.dumps({"admin": True, "user": "planted"}, 5):
// bytes anyone who can write to Redis could store, which the pickle reader
// reads as a dict when nothing checks where they came from.
var planted, _ = hex.DecodeString("8005951f000000000000007d94288c0561646d696e94888c0475736572948c07706c616e74656494752e")

// plantedDict is what the pickle reader makes of planted.
var plantedDict = pickle.Dict{{Key: "admin", Value: true}, {Key: "user", Value: "planted"}}

// countingSerializer is Pickle, counting what reaches Unmarshal.
type countingSerializer struct {
	reads atomic.Int64
}

func (s *countingSerializer) Marshal(v any) ([]byte, error) { return Pickle.Marshal(v) }
func (s *countingSerializer) Unmarshal(b []byte) (any, error) {
	s.reads.Add(1)
	return Pickle.Unmarshal(b)
}

// rejections records what OnReject receives.
type rejections struct {
	mu  sync.Mutex
	got []Rejection
}

func (r *rejections) add(x Rejection) {
	r.mu.Lock()
	r.got = append(r.got, x)
	r.mu.Unlock()
}

func (r *rejections) list() []Rejection {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Rejection(nil), r.got...)
}

// rejected sums the Rejected counters of c's servers.
func rejected(c *Cache) (n uint64) {
	for _, s := range c.Stats() {
		n += s.Rejected
	}
	return n
}

func TestProtectionOptions(t *testing.T) {
	errs := []struct {
		opts Options
		want string
	}{
		{Options{ValueProtection: "sign"}, `Options.ValueProtection = "sign" needs Options.ProtectionKeys: give the Django site's SECRET_KEY`},
		{Options{ValueProtection: "encrypt", ProtectionKeys: []string{}}, "needs Options.ProtectionKeys"},
		{Options{ValueProtection: "hmac", ProtectionKeys: []string{"s3cret"}}, `must be "sign", "encrypt" or "" (off)`},
		{Options{ValueProtection: "sign", ProtectionKeys: []string{"s3cret"}, ProtectionErrors: "ignore"}, `must be "miss" or "raise"`},
		{Options{ValueProtection: "sign", ProtectionKeys: []string{"s3cret", ""}}, "Options.ProtectionKeys[1] is empty"},
	}
	for _, tt := range errs {
		_, err := config(tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q %q: got error %v; want one containing %q, without the secret", tt.opts.ValueProtection, tt.opts.ProtectionErrors, err, tt.want)
		}
		if c, err := Open(tt.opts); err == nil {
			c.Close()
			t.Errorf("Open(%q): got no error; want one", tt.opts.ValueProtection)
		}
	}

	maps := []struct {
		opts Options
		want *cache.Protection
	}{
		{Options{}, nil},
		{Options{ProtectionKeys: []string{"k"}}, nil},
		{Options{ValueProtection: "sign", ProtectionKeys: []string{"new", "old"}},
			&cache.Protection{Mode: "sign", Secrets: []string{"new", "old"}, Errors: "miss"}},
		{Options{ValueProtection: "encrypt", ProtectionKeys: []string{"k"}, ProtectionErrors: "raise", AcceptUnprotected: true},
			&cache.Protection{Mode: "encrypt", Secrets: []string{"k"}, Errors: "raise", AcceptUnprotected: true}},
	}
	for _, tt := range maps {
		cfg, err := config(tt.opts)
		got := cfg.Protection
		same := (got == nil) == (tt.want == nil)
		if same && got != nil {
			same = got.Mode == tt.want.Mode && strings.Join(got.Secrets, ",") == strings.Join(tt.want.Secrets, ",") &&
				got.Errors == tt.want.Errors && got.AcceptUnprotected == tt.want.AcceptUnprotected && cfg.OnReject != nil
		}
		if err != nil || !same {
			t.Errorf("%+v: got %+v (OnReject set: %v), %v; want %+v", tt.opts, got, cfg.OnReject != nil, err, tt.want)
		}
	}
}

// Every fixture value goes in signed or encrypted (and compressed) and comes
// back equal, through Get, GetMany and GetOrSet; what Redis holds is the
// protected form (an encrypted one without the plaintext), plain ints
// excepted.
func TestProtectedValuesRoundTrip(t *testing.T) {
	ctx := context.Background()
	wants := fixturevalues.All()
	for _, mode := range modes {
		for _, comp := range []codec.Format{codec.None, codec.Zlib, codec.Zstd} {
			c := openTest(t, Options{KeyPrefix: "prot-rt-" + mode, ValueProtection: mode, ProtectionKeys: []string{"current"},
				Compressor: comp, Timeout: time.Minute, OnReject: func(r Rejection) { t.Errorf("%s %s: rejected %+v", mode, comp, r) }})
			keys := []string{}
			for name, want := range wants {
				if want.Err != "" {
					continue
				}
				if err := c.Set(ctx, name, want.Value, 0); err != nil {
					t.Fatalf("%s %s: Set(%s): %v", mode, comp, name, err)
				}
				keys = append(keys, name)
			}
			sort.Strings(keys)
			many, err := c.GetMany(ctx, keys)
			if err != nil {
				t.Fatalf("%s %s: GetMany: %v", mode, comp, err)
			}
			for _, name := range keys {
				want := wants[name].Value
				got, found, err := c.Get(ctx, name)
				if !found || err != nil || !fixturevalues.Equal(got, want) || !fixturevalues.Equal(many[name], want) {
					t.Errorf("%s %s: %s: got %#v (GetMany %#v), %v, %v; want %#v", mode, comp, name, got, many[name], found, err, want)
				}
			}
			raw, _, _ := c.Shards().Get(ctx, c.MakeKey("str_300k_compressible"))
			header := string(protect.Magic[:]) + mode[:1]
			plaintext := mode == "sign" && comp == codec.None // else encrypted or compressed
			if !strings.HasPrefix(string(raw), header) || plaintext != bytes.Contains(raw, []byte("the quick brown fox")) {
				t.Errorf("%s %s: stored %q...; want the %s header and the plaintext only when signed uncompressed", mode, comp, raw[:min(len(raw), 16)], mode)
			}
			if comp == codec.Zlib && len(raw) > 100_000 {
				t.Errorf("%s zlib: stored %d bytes; want the value compressed before it was protected", mode, len(raw))
			}
			if raw, _, _ := c.Shards().Get(ctx, c.MakeKey("int_neg")); string(raw) != "-5" {
				t.Errorf("%s %s: int stored as %q; want -5 as it is (INCR works)", mode, comp, raw)
			}
			if n, err := c.Incr(ctx, "int_neg", 2); n != -3 || err != nil {
				t.Errorf("%s %s: Incr: got %d, %v; want -3, nil", mode, comp, n, err)
			}
			v, err := c.GetOrSet(ctx, "dict_nested", time.Minute, func(context.Context) (any, error) {
				return nil, errors.New("computed a value that is stored")
			})
			if err != nil || !fixturevalues.Equal(v, wants["dict_nested"].Value) {
				t.Errorf("%s %s: GetOrSet: got %#v, %v; want the stored value", mode, comp, v, err)
			}
		}
	}
}

// A pickle written straight to Redis (as anyone with access to it can) is
// what the reader would decode without protection; with it, it is a miss
// for Get, GetMany and GetOrSet, never reaches the deserializer, is
// counted, and is handed to OnReject once with its key and reason.
func TestUnprotectedPickleIsAMiss(t *testing.T) {
	ctx := context.Background()
	for _, mode := range modes {
		prefix := "prot-planted-" + mode
		plain := openTest(t, Options{KeyPrefix: prefix})
		if _, err := plain.Shards().Set(ctx, plain.MakeKey("p"), planted, expiry.Of(time.Minute), false); err != nil {
			t.Fatal(err)
		}
		if v, found, err := plain.Get(ctx, "p"); !found || err != nil || !fixturevalues.Equal(v, plantedDict) {
			t.Fatalf("%s: unprotected reader: got %#v, %v, %v; want the planted dict (else this test proves nothing)", mode, v, found, err)
		}

		var seen rejections
		ser := &countingSerializer{}
		c := openTest(t, Options{KeyPrefix: prefix, ValueProtection: mode, ProtectionKeys: []string{"k"}, Serializer: ser, OnReject: seen.add})
		before := rejected(c)
		if v, found, err := c.Get(ctx, "p"); found || err != nil {
			t.Errorf("%s: Get: got %#v, %v, %v; want a miss", mode, v, found, err)
		}
		var into pickle.Dict
		if found, err := c.GetInto(ctx, "p", &into); found || err != nil || into != nil {
			t.Errorf("%s: GetInto: got %v, %v, %#v; want a miss", mode, found, err, into)
		}
		if m, err := c.GetMany(ctx, []string{"p"}); len(m) != 0 || err != nil {
			t.Errorf("%s: GetMany: got %#v, %v; want nothing", mode, m, err)
		}
		if ser.reads.Load() != 0 {
			t.Errorf("%s: got %d values deserialized; want 0", mode, ser.reads.Load())
		}
		if n := rejected(c) - before; n != 3 {
			t.Errorf("%s: Stats Rejected grew by %d; want 3", mode, n)
		}
		got := seen.list()
		if len(got) != 1 || got[0].Key != c.MakeKey("p") || !strings.Contains(got[0].Reason, "no protection header") {
			t.Errorf("%s: OnReject got %+v; want one rejection of %q (no protection header)", mode, got, c.MakeKey("p"))
		}
		v, err := c.GetOrSet(ctx, "p", time.Minute, func(context.Context) (any, error) { return "recomputed", nil })
		if v != "recomputed" || err != nil || ser.reads.Load() != 0 {
			t.Errorf("%s: GetOrSet: got %#v, %v (%d deserialized); want it computed, none deserialized", mode, v, err, ser.reads.Load())
		}
		if v, found, err := c.Get(ctx, "p"); v != "recomputed" || !found || err != nil {
			t.Errorf("%s: Get after GetOrSet: got %#v, %v, %v; want the protected recomputed value", mode, v, found, err)
		}
		accepting := openTest(t, Options{KeyPrefix: prefix, ValueProtection: mode, ProtectionKeys: []string{"k"}, AcceptUnprotected: true})
		_, _ = plain.Shards().Set(ctx, plain.MakeKey("p"), planted, expiry.Of(time.Minute), false)
		if v, found, err := accepting.Get(ctx, "p"); !found || err != nil || !fixturevalues.Equal(v, plantedDict) {
			t.Errorf("%s: AcceptUnprotected: got %#v, %v, %v; want the unprotected value", mode, v, found, err)
		}
	}
}

// With ProtectionErrors "raise" every read of a value that does not verify
// is a *RejectedError (errors.As finds it) naming the key, never its bytes,
// even with IgnoreExceptions; GetOrSet does not compute over it.
func TestRejectedValueRaises(t *testing.T) {
	ctx := context.Background()
	for _, mode := range modes {
		c := openTest(t, Options{KeyPrefix: "prot-raise-" + mode, ValueProtection: mode, ProtectionKeys: []string{"k"},
			ProtectionErrors: "raise", IgnoreExceptions: true, IgnoredErrors: func(err error) { t.Errorf("%s: ignored %v", mode, err) }})
		made := c.MakeKey("p")
		if _, err := c.Shards().Set(ctx, made, planted, expiry.Of(time.Minute), false); err != nil {
			t.Fatal(err)
		}
		_, gotMany := c.GetMany(ctx, []string{"p", "absent"})
		_, gotOrSet := c.GetOrSet(ctx, "p", time.Minute, func(context.Context) (any, error) {
			t.Errorf("%s: GetOrSet computed over a rejected value", mode)
			return "x", nil
		})
		_, found, gotGet := c.Get(ctx, "p")
		for _, tt := range []struct {
			op  string
			err error
		}{{"Get", gotGet}, {"GetMany", gotMany}, {"GetOrSet", gotOrSet}} {
			var re *RejectedError
			if !errors.As(tt.err, &re) || re.Key != made || strings.Contains(tt.err.Error(), "planted") {
				t.Errorf("%s: %s: got %v; want a *RejectedError for %q without the value's bytes", mode, tt.op, tt.err, made)
			}
		}
		if found {
			t.Errorf("%s: Get: got found; want not found with the error", mode)
		}
	}
}

// A protected value that was tampered with, copied to another key or
// written in the other mode does not verify either.
func TestForgedValuesAreMisses(t *testing.T) {
	ctx := context.Background()
	for _, mode := range modes {
		c := openTest(t, Options{KeyPrefix: "prot-forged-" + mode, ValueProtection: mode, ProtectionKeys: []string{"k"}, OnReject: func(Rejection) {}})
		other := "sign"
		if mode == "sign" {
			other = "encrypt"
		}
		otherMode := openTest(t, Options{KeyPrefix: "prot-forged-" + mode, ValueProtection: other, ProtectionKeys: []string{"k"}})
		if err := c.Set(ctx, "genuine", "the real value", 0); err != nil {
			t.Fatal(err)
		}
		if err := otherMode.Set(ctx, "other-mode", "written in the other mode", 0); err != nil {
			t.Fatal(err)
		}
		stored, _, _ := c.Shards().Get(ctx, c.MakeKey("genuine"))
		flipped := bytes.Clone(stored)
		flipped[protect.HeaderLen+2] ^= 1
		for key, v := range map[string][]byte{"flipped": flipped, "copied": stored, "truncated": stored[:protect.HeaderLen+3]} {
			_, _ = c.Shards().Set(ctx, c.MakeKey(key), v, expiry.Of(time.Minute), false)
		}
		for _, key := range []string{"flipped", "copied", "truncated", "other-mode"} {
			if v, found, err := c.Get(ctx, key); found || err != nil {
				t.Errorf("%s: %s: got %#v, %v, %v; want a miss", mode, key, v, found, err)
			}
		}
		if v, _, err := c.Get(ctx, "genuine"); v != "the real value" || err != nil {
			t.Errorf("%s: genuine: got %#v, %v; want the value", mode, v, err)
		}
	}
}

// Rotation as Django rotates SECRET_KEY: the new key first, the old one
// after it. Values written under the old key still read; new ones are
// written under the new key, which a reader that only knows the old one
// refuses, as a reader that dropped the old key refuses the old values.
func TestProtectionKeyRotation(t *testing.T) {
	ctx := context.Background()
	for _, mode := range modes {
		at := func(keys ...string) *Cache {
			return openTest(t, Options{KeyPrefix: "prot-rotate-" + mode, ValueProtection: mode, ProtectionKeys: keys, OnReject: func(Rejection) {}})
		}
		old, rotated, dropped := at("old-secret"), at("new-secret", "old-secret"), at("new-secret")
		if err := old.Set(ctx, "before", "written before", 0); err != nil {
			t.Fatal(err)
		}
		if err := rotated.Set(ctx, "after", "written after", 0); err != nil {
			t.Fatal(err)
		}
		reads := []struct {
			reader *Cache
			who    string
			key    string
			want   any // nil: a miss
		}{
			{rotated, "rotated", "before", "written before"},
			{rotated, "rotated", "after", "written after"},
			{old, "old only", "before", "written before"},
			{old, "old only", "after", nil},
			{dropped, "new only", "after", "written after"},
			{dropped, "new only", "before", nil},
		}
		for _, r := range reads {
			v, found, err := r.reader.Get(ctx, r.key)
			if err != nil || found != (r.want != nil) || v != r.want {
				t.Errorf("%s: %s reads %q: got %#v, %v, %v; want %#v", mode, r.who, r.key, v, found, err, r.want)
			}
		}
		before, _, _ := old.Shards().Get(ctx, old.MakeKey("before"))
		after, _, _ := old.Shards().Get(ctx, old.MakeKey("after"))
		if bytes.Equal(before[5:protect.HeaderLen], after[5:protect.HeaderLen]) {
			t.Errorf("%s: got the same key id before and after the rotation; want the new key's", mode)
		}
	}
}

// The default OnReject logs a warning on slog's default logger with the
// key and the reason, and not the value.
func TestRejectionsAreLoggedBySlog(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	c := openTest(t, Options{KeyPrefix: "prot-slog", ValueProtection: "sign", ProtectionKeys: []string{"k"}})
	made := c.MakeKey("logged-" + time.Now().Format(time.RFC3339Nano)) // once per key per minute: a key of its own
	if _, err := c.Shards().Set(ctx, made, planted, expiry.Of(time.Minute), false); err != nil {
		t.Fatal(err)
	}
	if _, found, err := c.Get(ctx, strings.TrimPrefix(made, "prot-slog:1:")); found || err != nil {
		t.Fatalf("Get: got %v, %v; want a miss", found, err)
	}
	got := buf.String()
	if !strings.Contains(got, "level=WARN") || !strings.Contains(got, "key="+made) ||
		!strings.Contains(got, "no protection header") || strings.Contains(got, "planted") {
		t.Errorf("log: got %q; want a WARN line naming %q and the reason, without the value", got, made)
	}
}
