package djcache

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/codec"
	"github.com/redis-cache-go/redis-cache-go/core/expiry"
	"github.com/redis-cache-go/redis-cache-go/core/pickle"
)

func openTest(t *testing.T, opts Options) *Cache {
	t.Helper()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		t.Fatal("REDIS_URL is not set (run under tests/harness/with_redis.py; make test does)")
	}
	c, err := OpenURL(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestKeyMaking(t *testing.T) {
	ctx := context.Background()
	custom := func(key, prefix string, version int) string { return strings.Join([]string{"K", prefix, key}, "|") }
	tests := []struct {
		opts Options
		want string
	}{
		{Options{}, ":1:k"},
		{Options{KeyPrefix: "p", Version: 7}, "p:7:k"},
		{Options{KeyPrefix: "p", KeyFunc: custom}, "K|p|k"},
	}
	for _, tc := range tests {
		c := openTest(t, tc.opts)
		if err := c.Set(ctx, "k", "v", time.Minute); err != nil {
			t.Fatal(err)
		}
		raw, found, err := c.Shards().Get(ctx, tc.want)
		if got := c.MakeKey("k"); got != tc.want || !found || err != nil {
			t.Errorf("key: got %q (stored at %q: %v %v); want %q", got, tc.want, found, err, tc.want)
		}
		if v, _ := c.Decode(raw); v != "v" {
			t.Errorf("stored value: got %#v; want \"v\"", v)
		}
	}
	c := openTest(t, Options{KeyPrefix: "p"})
	if got := c.MakeKeyVersion("k", 3); got != "p:3:k" {
		t.Errorf("MakeKeyVersion: got %q; want p:3:k", got)
	}
	if err := c.AtVersion(3).Set(ctx, "k", "three", time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := c.Shards().Get(ctx, "p:3:k"); v == nil {
		t.Errorf("AtVersion(3).Set: nothing at p:3:k")
	}
	if v, _, _ := c.AtVersion(3).Get(ctx, "k"); v != "three" {
		t.Errorf("AtVersion(3).Get: got %#v; want \"three\"", v)
	}
	if c.MakeKey("k") != "p:1:k" {
		t.Errorf("AtVersion changed the cache it was called on: MakeKey gives %q", c.MakeKey("k"))
	}
}

func TestOperations(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, Options{KeyPrefix: "ops", Compressor: codec.Zlib, Timeout: 90 * time.Second})
	_, _ = c.DeleteMany(ctx, []string{"a", "b", "c", "n"})

	if err := c.Set(ctx, "a", []any{"x", int64(1)}, 0); err != nil {
		t.Fatal(err)
	}
	if ttl, found, _ := c.TTL(ctx, "a"); !found || ttl <= 80*time.Second || ttl > 90*time.Second {
		t.Errorf("TTL after Set with the default timeout: got %v %v; want about 90s", ttl, found)
	}
	if added, _ := c.Add(ctx, "a", "other", 0); added {
		t.Errorf("Add on an existing key: got true; want false")
	}
	if added, _ := c.Add(ctx, "b", nil, Forever); !added {
		t.Errorf("Add on a missing key: got false; want true")
	}
	if v, found, err := c.Get(ctx, "b"); v != nil || !found || err != nil {
		t.Errorf("Get of a stored None: got %#v %v %v; want nil true <nil>", v, found, err)
	}
	if ttl, found, _ := c.TTL(ctx, "b"); ttl != Forever || !found {
		t.Errorf("TTL of a key without expiry: got %v %v; want Forever true", ttl, found)
	}
	if ok, _ := c.Touch(ctx, "b", time.Minute); !ok {
		t.Errorf("Touch: got false; want true")
	}
	if ttl, _, _ := c.TTL(ctx, "b"); ttl <= 0 || ttl > time.Minute {
		t.Errorf("TTL after Touch: got %v; want <= 1m", ttl)
	}
	if has, _ := c.Has(ctx, "c"); has {
		t.Errorf("Has of a missing key: got true; want false")
	}
	if err := c.SetMany(ctx, map[string]any{"c": pickle.Decimal("1.5"), "n": 5}, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetMany(ctx, []string{"a", "b", "c", "n", "missing"})
	if err != nil || len(got) != 4 || got["c"] != pickle.Decimal("1.5") || got["n"] != int64(5) || got["b"] != nil {
		t.Errorf("GetMany: got %#v, %v; want a, b, c and n", got, err)
	}
	if n, err := c.Incr(ctx, "n", -7); n != -2 || err != nil {
		t.Errorf("Incr: got %d, %v; want -2", n, err)
	}
	if _, err := c.Incr(ctx, "missing", 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Incr of a missing key: got %v; want ErrNotFound", err)
	}
	if deleted, _ := c.Delete(ctx, "a"); !deleted {
		t.Errorf("Delete: got false; want true")
	}
	if n, _ := c.DeleteMany(ctx, []string{"a", "b", "c", "n"}); n != 3 {
		t.Errorf("DeleteMany: got %d; want 3", n)
	}
}

func TestUnreadableValuesAreErrors(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, Options{KeyPrefix: "bad"})
	tests := []struct {
		stored     []byte
		pythonType string // "" when any error will do
	}{
		{[]byte("\x80\x04\x95\x1d\x00\x00\x00\x00\x00\x00\x00\x8c\x04http\x94\x8c\nHTTPStatus\x94\x93\x94K\xc8\x85\x94R\x94."), "http.HTTPStatus"},
		{[]byte("\x78\x9cnot zlib"), ""},
		{[]byte("<HTTPStatus.OK: 200>"), ""},
	}
	for _, tc := range tests {
		if _, err := c.Shards().Set(ctx, "bad:1:k", tc.stored, expiry.Of(time.Minute), false); err != nil {
			t.Fatal(err)
		}
		v, _, err := c.Get(ctx, "k")
		var ve *ValueError
		var ute *pickle.UnsupportedTypeError
		switch {
		case !errors.As(err, &ve) || ve.Key != "bad:1:k":
			t.Errorf("%q: got %#v, %v; want a ValueError for bad:1:k", tc.stored, v, err)
		case tc.pythonType != "" && (!errors.As(err, &ute) || ute.PythonType != tc.pythonType):
			t.Errorf("%q: got %v; want it to name %s", tc.stored, err, tc.pythonType)
		}
		var s string
		if _, err := c.GetInto(ctx, "k", &s); err == nil {
			t.Errorf("%q: GetInto: got no error; want one", tc.stored)
		}
	}
}

func TestOpenRefusesBadSettings(t *testing.T) {
	for _, opts := range []Options{
		{Location: []string{"host:port"}},
		{Location: []string{""}},
		{Location: []string{"a:1", "b:2"}, Weights: []int{1}},
		{Compressor: codec.Format(99)},
	} {
		if c, err := Open(opts); err == nil {
			_ = c.Close()
			t.Errorf("Open(%+v): got no error; want one", opts)
		}
	}
}
