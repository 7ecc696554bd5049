// Command crosslang is the Go side of tests/python/test_go_interop.py: it
// reads the values the Python package wrote and writes the same values for
// Python to read, through core/djcache with the settings given as flags.
//
//	crosslang -location L [-db N] [-prefix P] [-compressor zlib] [-serializer json] [-mode copy]
//		[-protection sign|encrypt -protection-key CURRENT [-protection-key OLD]...] read NAME...
//	crosslang ... write NAME...
//	crosslang ... servers
//	crosslang ... getorset KEY VALUE
//	crosslang ... lock RAWKEY
//
// read prints one JSON object per name: {"ok": bool, "got": "...", "server": i};
// write prints {"server": i}; servers prints the servers djcache derives from
// the settings ([{"network", "addr", "db", "username", "password", "name"}]). Values are those of internal/fixturevalues,
// stored at key "v:NAME". getorset runs GetOrSet(KEY) with a computation returning the string
// VALUE and prints {"value": ..., "computed": bool}; lock tries once to take the lock on RAWKEY
// (then releases it) and prints {"acquired": bool}. -protection and -protection-key are
// OPTIONS VALUE_PROTECTION and PROTECTION_KEY (djcache.Options.ValueProtection and
// ProtectionKeys): the flag repeated lists the keys in order, the current one first; a value
// that does not verify reads as "miss" (and djcache.LogRejection logs it to stderr).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/codec"
	"github.com/redis-cache-go/redis-cache-go/core/djcache"
	"github.com/redis-cache-go/redis-cache-go/core/shard"
	"github.com/redis-cache-go/redis-cache-go/internal/fixturevalues"
)

// keys is a repeatable flag: each use adds one key, as given (a secret may hold a comma).
type keys []string

func (k *keys) String() string { return fmt.Sprintf("%d keys", len(*k)) } // never the secrets

func (k *keys) Set(s string) error {
	*k = append(*k, s)
	return nil
}

type result struct {
	OK     bool   `json:"ok"`
	Got    string `json:"got,omitempty"`
	Server int    `json:"server"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "crosslang:", err)
		os.Exit(1)
	}
}

func run() error {
	location := flag.String("location", "", "LOCATION string")
	password := flag.String("password", "", "OPTIONS PASSWORD")
	db := flag.Int("db", djcache.DefaultDB, "OPTIONS DB")
	prefix := flag.String("prefix", "", "KEY_PREFIX")
	compressor := flag.String("compressor", "", "COMPRESSOR short name")
	serializer := flag.String("serializer", "pickle", "pickle, json or msgpack")
	mode := flag.String("mode", "ring", "ring or copy")
	protection := flag.String("protection", "", "VALUE_PROTECTION: sign or encrypt")
	var protectionKeys keys
	flag.Var(&protectionKeys, "protection-key", "a PROTECTION_KEY, current first (repeat the flag for older ones)")
	flag.Parse()
	if flag.NArg() < 1 {
		return fmt.Errorf("usage: crosslang [flags] read|write NAME...")
	}
	format, err := codec.ParseFormat(*compressor)
	if err != nil {
		return err
	}
	opts := djcache.Options{DB: djcache.DB(*db), Password: *password, KeyPrefix: *prefix, Compressor: format, Timeout: djcache.Forever,
		ValueProtection: *protection, ProtectionKeys: protectionKeys}
	switch *serializer {
	case "pickle":
	case "json":
		opts.Serializer = djcache.JSON
	case "msgpack":
		opts.Serializer = djcache.MsgPack
	default:
		return fmt.Errorf("unknown serializer %q", *serializer)
	}
	if *mode == "copy" {
		opts.Mode = shard.Copy
	}
	if flag.Arg(0) == "servers" {
		return printServers(*location, opts)
	}
	c, err := djcache.OpenURL(*location, opts)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := context.Background()
	switch flag.Arg(0) {
	case "getorset":
		return getOrSet(ctx, c, flag.Arg(1), flag.Arg(2))
	case "lock":
		return tryLock(ctx, c, flag.Arg(1))
	}
	wants := fixturevalues.All()
	out := map[string]result{}
	for _, name := range flag.Args()[1:] {
		want, ok := wants[name]
		if !ok {
			return fmt.Errorf("unknown value %q", name)
		}
		key := "v:" + name
		r := result{Server: c.Locate(key)}
		switch flag.Arg(0) {
		case "read":
			got, found, err := c.Get(ctx, key)
			switch {
			case err != nil:
				r.Got = "error: " + err.Error()
			case !found:
				r.Got = "miss"
			default:
				r.OK = fixturevalues.Equal(got, want.Value)
				if !r.OK {
					r.Got = fmt.Sprintf("%#v", got)
					if len(r.Got) > 300 {
						r.Got = r.Got[:300] + "..."
					}
				}
			}
		case "write":
			if err := c.Set(ctx, key, want.Value, 0); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			r.OK = true
		default:
			return fmt.Errorf("unknown command %q", flag.Arg(0))
		}
		out[name] = r
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

func printServers(location string, opts djcache.Options) error {
	opts.Location = djcache.SplitLocation(location)
	so, err := djcache.ShardOptions(opts)
	if err != nil {
		return err
	}
	type server struct {
		Network  string `json:"network"`
		Addr     string `json:"addr"`
		DB       int    `json:"db"`
		Username string `json:"username"`
		Password string `json:"password"`
		TLS      bool   `json:"tls"`
		Name     string `json:"name"`
	}
	out := make([]server, len(so.Servers))
	for i, s := range so.Servers {
		out[i] = server{s.Network, s.Addr, s.DB, s.Username, s.Password, s.TLS != nil, so.Names[i]}
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

func getOrSet(ctx context.Context, c *djcache.Cache, key, value string) error {
	computed := false
	v, err := c.GetOrSet(ctx, key, time.Minute, func(context.Context) (any, error) {
		computed = true
		return value, nil
	})
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"value": v, "computed": computed})
}

func tryLock(ctx context.Context, c *djcache.Cache, key string) error {
	l := c.Lock(key, 10*time.Second)
	ok, err := l.Acquire(ctx, false, 0)
	if err != nil {
		return err
	}
	if ok {
		if _, err := l.Release(ctx); err != nil {
			return err
		}
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"acquired": ok})
}
