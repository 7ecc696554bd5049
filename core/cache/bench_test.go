package cache

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/redis-cache-go/redis-cache-go/internal/redistest"
)

// The hot paths, against a real redis-server on loopback (so the round
// trip dominates: compare runs of one machine only).

func BenchmarkGet(b *testing.B) {
	c := open(b, redistest.Start(b), Config{})
	set(b, c, "b:k", strings.Repeat("v", 100))
	var buf Buffer
	for b.Loop() {
		if ok, err := c.Get(ctx, "b:k", &buf); !ok || err != nil {
			b.Fatalf("Get: got %v, %v; want a hit", ok, err)
		}
	}
}

func BenchmarkGetNearHit(b *testing.B) {
	srv := redistest.Start(b)
	c := openNear(b, srv, Config{})
	set(b, c, "app:k", strings.Repeat("v", 100))
	cached(b, c, "app:k")
	var buf Buffer
	for b.Loop() {
		if ok, err := c.Get(ctx, "app:k", &buf); !ok || err != nil {
			b.Fatalf("Get: got %v, %v; want a hit", ok, err)
		}
	}
}

func BenchmarkSet(b *testing.B) {
	c := open(b, redistest.Start(b), Config{})
	v := bytes.Repeat([]byte("v"), 100)
	for b.Loop() {
		if _, err := c.Set(ctx, "b:k", v, 0, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSetZstd64K(b *testing.B) {
	c := open(b, redistest.Start(b), Config{Codec: &Codec{Compressor: "zstd"}})
	v := []byte(strings.Repeat("a compressible value ", 64<<10/21))
	for b.Loop() {
		if _, err := c.Set(ctx, "b:k", v, 0, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetMany100(b *testing.B) {
	srv := redistest.Start(b)
	for _, mode := range []string{"", "sign", "encrypt"} {
		cfg := Config{}
		if mode != "" {
			cfg.Protection = &Protection{Mode: mode, Secrets: []string{"bench"}}
		}
		c := open(b, srv, cfg)
		keys := make([]string, 100)
		vals := make([][]byte, 100)
		for i := range keys {
			keys[i], vals[i] = fmt.Sprintf("b%s:%d", mode, i), bytes.Repeat([]byte("v"), 100)
		}
		if err := c.SetMany(ctx, keys, vals, 0); err != nil {
			b.Fatal(err)
		}
		name := mode
		if name == "" {
			name = "plain"
		}
		b.Run(name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				if err := c.GetMany(ctx, keys, func(int, []byte) { n++ }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAskFresh(b *testing.B) {
	c := open(b, redistest.Start(b), Config{})
	_, tk, err := ask(c, "b:h")
	if tk == nil || err != nil {
		b.Fatalf("Ask: got %v, %v; want a ticket", tk, err)
	}
	if err := tk.Publish(ctx, []byte("value"), 0, 0); err != nil {
		b.Fatal(err)
	}
	var buf Buffer
	for b.Loop() {
		if tk, err := c.Ask(ctx, "b:h", 0, &buf); tk != nil || err != nil {
			b.Fatalf("Ask: got %v, %v; want the value", tk, err)
		}
	}
}

// BenchmarkPut is the read side of the codec policy alone: a stored value
// decoded into the caller's memory.
func BenchmarkPut(b *testing.B) {
	plain := []byte(strings.Repeat("a compressible value ", 64<<10/21))
	for _, name := range []string{"none", "zlib", "zstd"} {
		vc := valuesOf(b, Codec{Compressor: name})
		stored, err := vc.encode("k", plain)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			var buf Buffer
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				vc.put(&buf, "k", stored)
			}
		})
	}
}
