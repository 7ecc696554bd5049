package cache

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/codec"
	"github.com/redis-cache-go/redis-cache-go/core/shard"
)

// shardOptionsOf parses doc and returns its shard options, as Open derives them.
func shardOptionsOf(doc string) (shard.Options, error) {
	cfg, err := Parse([]byte(doc))
	if err != nil {
		return shard.Options{}, err
	}
	return cfg.ShardOptions()
}

func TestParseOneServer(t *testing.T) {
	opts, err := shardOptionsOf(`{"network":"unix","addr":"/tmp/r.sock","db":3,"username":"u","password":"p",
		"connect_timeout":1.5,"socket_timeout":0.25,"max_connections":7,"pool_timeout":2,
		"breaker_failures":-1,"breaker_cooldown":0.5}`)
	if err != nil || len(opts.Servers) != 1 {
		t.Fatalf("got %d servers, error %v; want 1 server, nil", len(opts.Servers), err)
	}
	o := opts.Servers[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"network", o.Network, "unix"},
		{"addr", o.Addr, "/tmp/r.sock"},
		{"db", o.DB, 3},
		{"username", o.Username, "u"},
		{"password", o.Password, "p"},
		{"dial timeout", o.DialTimeout, 1500 * time.Millisecond},
		{"read timeout", o.ReadTimeout, 250 * time.Millisecond},
		{"pool size", o.PoolSize, 7},
		{"pool timeout", o.PoolTimeout, 2 * time.Second},
		{"breaker failures", o.BreakerFailures, -1},
		{"breaker cooldown", o.BreakerCooldown, 500 * time.Millisecond},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v; want %v", c.name, c.got, c.want)
		}
	}
}

func TestParseServers(t *testing.T) {
	opts, err := shardOptionsOf(`{"socket_timeout":0.5,"mode":"primary","primary":1,
		"servers":[{"addr":"a:1","db":2,"name":"('a', 1, 2, None)","weight":2,"socket_timeout":0.75},
		           {"network":"unix","addr":"/s.sock","db":3,"password":"p","name":"(None, None, 3, '/s.sock')"}]}`)
	if err != nil {
		t.Fatalf("got error %v; want nil", err)
	}
	if opts.Mode != shard.Primary || opts.Primary != 1 || len(opts.Servers) != 2 {
		t.Fatalf("got mode %v primary %d servers %d; want primary 1 of 2", opts.Mode, opts.Primary, len(opts.Servers))
	}
	s0, s1 := opts.Servers[0], opts.Servers[1]
	if s0.Addr != "a:1" || s0.DB != 2 || s0.ReadTimeout != 750*time.Millisecond {
		t.Errorf("server 0: got %+v; want a:1 db 2, its own read timeout 750ms", s0)
	}
	if s1.Network != "unix" || s1.Password != "p" || s1.ReadTimeout != 500*time.Millisecond {
		t.Errorf("server 1: got %+v; want unix, password p, read timeout 500ms", s1)
	}
	if len(opts.Weights) != 2 || opts.Weights[0] != 2 || opts.Weights[1] != 1 {
		t.Errorf("weights: got %v; want [2 1]", opts.Weights)
	}
	if len(opts.Names) != 2 || opts.Names[1] != "(None, None, 3, '/s.sock')" {
		t.Errorf("names: got %v; want the second one (None, None, 3, '/s.sock')", opts.Names)
	}
}

func TestParseHashRings(t *testing.T) {
	for ring, want := range map[string]shard.HashRing{"": shard.SeedRing, "seed": shard.SeedRing,
		"kidoredis": shard.KidoredisRing, "django-redis": shard.DjangoRedisRing} {
		opts, err := shardOptionsOf(`{"mode":"ring","hash_ring":"` + ring + `","servers":[
			{"addr":"a:1","name":"redis://a:1/0"},{"addr":"b:1","name":"redis://b:1/0"}]}`)
		if err != nil || opts.HashRing != want {
			t.Errorf("hash_ring %q: got %q, %v; want %q", ring, opts.HashRing, err, want)
		}
	}
}

func TestParseTopology(t *testing.T) {
	opts, err := shardOptionsOf(`{"addr":"127.0.0.1:7000","topology":{"kind":"cluster","addrs":["127.0.0.1:7000","127.0.0.1:7001"],"read_from_replicas":true}}`)
	if err != nil {
		t.Fatalf("cluster document: got error %v; want nil", err)
	}
	topo := opts.Servers[0].Topology
	if topo == nil || !topo.Cluster || len(topo.Addrs) != 2 || !topo.ReadFromReplicas {
		t.Fatalf("cluster document: got topology %+v; want a cluster of 2 seeds reading replicas", topo)
	}
	opts, err = shardOptionsOf(`{"db":2,"topology":{"kind":"sentinel","addrs":["127.0.0.1:26379"],"service":"mymaster","sentinel_password":"sp"}}`)
	if err != nil {
		t.Fatalf("sentinel document: got error %v; want nil", err)
	}
	topo = opts.Servers[0].Topology
	if topo == nil || topo.Cluster || topo.Service != "mymaster" || topo.SentinelPassword != "sp" || opts.Servers[0].DB != 2 {
		t.Fatalf("sentinel document: got %+v db %d; want service mymaster, db 2", topo, opts.Servers[0].DB)
	}
	if s := opts.Servers[0].String(); strings.Contains(s, "sp") || !strings.Contains(s, "sentinel mymaster") {
		t.Errorf("String(): got %q; want the service named and no password", s)
	}
}

func TestParseTLS(t *testing.T) {
	opts, err := shardOptionsOf(`{"addr":"h:1","tls":{"cert_reqs":"none","server_name":"cache"}}`)
	if err != nil {
		t.Fatalf("got error %v; want nil", err)
	}
	if tc := opts.Servers[0].TLS; tc == nil || !tc.InsecureSkipVerify || tc.ServerName != "cache" {
		t.Fatalf("got TLS %+v; want InsecureSkipVerify and ServerName cache", tc)
	}
}

// Every way a document is refused, and by whom: Parse (shape) or Open (values).
func TestOpenRejects(t *testing.T) {
	cases := []struct{ doc, wantInMsg string }{
		{`not json`, "invalid configuration"},
		{`{"adress":"x"}`, "unknown field"},
		{`{"network":"udp"}`, "network"},
		{`{"db":-1}`, "db"},
		{`{"socket_timeout":-1}`, "socket_timeout"},
		{`{"max_connections":-3}`, "max_connections"},
		{`{"tls":{"cert_reqs":"maybe"}}`, "cert_reqs"},
		{`{"tls":{"ca_file":"/nonexistent/ca.pem"}}`, "ca_file"},
		{`{"tls":{"cert_file":"/x.pem"}}`, "together"},
		{`{"servers":[{"addr":"a:1"}],"mode":"mirror"}`, "mode"},
		{`{"servers":[{"addr":"a:1"}],"hash_ring":"ketama"}`, "hash_ring"},
		{`{"servers":[{"addr":"a:1"}],"mode":"primary","primary":2}`, "primary"},
		{`{"servers":[{"addr":"a:1","name":"x"},{"addr":"b:1"}]}`, "name missing"},
		{`{"servers":[{"addr":"a:1","db":-1}]}`, "server 0"},
		{`{"servers":[{"addr":"a:1","weight":-2}]}`, "weight"},
		{`{"servers":[{"adr":"a:1"}]}`, "unknown field"},
		{`{"db":1,"topology":{"kind":"cluster","addrs":["a:1"]}}`, "only db 0"},
		{`{"topology":{"kind":"sentinel","addrs":["a:1"]}}`, "service"},
		{`{"topology":{"kind":"cluster","addrs":[]}}`, "at least one address"},
		{`{"topology":{"kind":"ring","addrs":["a:1"]}}`, "cluster or sentinel"},
		{`{"codec": {"compressor": "brotli"}}`, "brotli"},
		{`{"codec": {"compressor": "zlib", "level": 10}}`, "level"},
		{`{"codec": {"compressor": "zlib", "min_len": -1}}`, "min"},
		{`{"codec": {"compresor": "zlib"}}`, "unknown field"},
		{`{"local_cache": {"max_entries": -1}}`, "local_cache"},
		{`{"local_cache": {}, "topology":{"kind":"sentinel","addrs":["a:1"],"service":"m"}}`, "not behind Sentinel"},
		{`{"local_cache": {}, "servers":[{"addr":"a:1"},{"addr":"b:1"}], "topology":{"kind":"cluster","addrs":["a:1"]}}`, "not behind Sentinel"},
		{`{"local_cache": {"max_entrys": 1}}`, "unknown field"},
	}
	for _, c := range cases {
		cfg, err := Parse([]byte(c.doc))
		if err == nil {
			var opened *Cache
			if opened, err = Open(cfg); err == nil {
				opened.Close()
			}
		}
		if err == nil || !strings.Contains(err.Error(), c.wantInMsg) {
			t.Errorf("%s: got error %v; want one containing %q", c.doc, err, c.wantInMsg)
		}
	}
}

func TestCodecPolicy(t *testing.T) {
	tests := []struct {
		doc    string
		format codec.Format
		level  int
		minLen int
		decode bool
	}{
		{doc: `{}`, format: codec.None, decode: true},
		{doc: `{"codec": null}`, format: codec.None, decode: true},
		{doc: `{"codec": {"compressor": "zlib"}}`, format: codec.Zlib, level: 6, decode: true},
		{doc: `{"codec": {"compressor": "zstd", "level": 19, "min_len": 16}}`, format: codec.Zstd, level: 19, minLen: 16, decode: true},
		{doc: `{"codec": {"compressor": "none", "decode": false}}`, format: codec.None},
	}
	for _, tt := range tests {
		cfg, err := Parse([]byte(tt.doc))
		if err != nil {
			t.Fatalf("Parse(%s): got error %v; want nil", tt.doc, err)
		}
		v, err := cfg.withDefaults().Codec.values()
		if err != nil {
			t.Errorf("%s: got error %v; want nil", tt.doc, err)
			continue
		}
		o := v.codec.Options()
		if o.Format != tt.format || o.Level != tt.level || o.MinLen != tt.minLen || v.decode != tt.decode {
			t.Errorf("%s: got %v level %d min %d decode %v; want %v level %d min %d decode %v",
				tt.doc, o.Format, o.Level, o.MinLen, v.decode, tt.format, tt.level, tt.minLen, tt.decode)
		}
	}
}

func valuesOf(t testing.TB, c Codec) *values {
	t.Helper()
	v, err := Config{Codec: &c}.withDefaults().Codec.values()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDecodeValuePassesThroughWhatIsNotAStream(t *testing.T) {
	vc := valuesOf(t, Codec{Compressor: "zlib"})
	for _, stored := range [][]byte{[]byte("x^2 + y^2\n...\n"), []byte("42"), []byte("\x80\x05N.")} {
		if got, _, _ := vc.decodeValue("k", stored); !bytes.Equal(got, stored) {
			t.Errorf("decodeValue(%q) = %q; want it unchanged", stored, got)
		}
	}
	plain := bytes.Repeat([]byte("ab"), 100)
	enc, _ := vc.encode("k", plain)
	if got, _, _ := vc.decodeValue("k", enc); !bytes.Equal(got, plain) {
		t.Errorf("decodeValue(encode(v)) = %q; want v", got)
	}
	off := false
	if got, _, _ := valuesOf(t, Codec{Decode: &off}).decodeValue("k", enc); !bytes.Equal(got, enc) {
		t.Errorf("decodeValue with decode off: got %q; want the stored bytes unchanged", got)
	}
}

// put writes the decoded value into the sink, whichever way it decodes.
func TestPutDecodesIntoTheSink(t *testing.T) {
	plain := bytes.Repeat([]byte("value "), 1000)
	for _, name := range []string{"none", "zlib", "zstd", "lz4", "s2"} {
		vc := valuesOf(t, Codec{Compressor: name})
		stored, err := vc.encode("k", plain)
		if err != nil {
			t.Fatalf("%s: encode: %v", name, err)
		}
		var b Buffer
		vc.put(&b, "k", stored)
		if !bytes.Equal(b.B, plain) {
			t.Errorf("%s: got %d bytes; want the %d plain bytes", name, len(b.B), len(plain))
		}
	}
	corrupt := []byte("\x28\xb5\x2f\xfd garbage") // zstd magic, not a stream: handed back as stored
	var b Buffer
	valuesOf(t, Codec{}).put(&b, "k", corrupt)
	if !bytes.Equal(b.B, corrupt) {
		t.Errorf("corrupt stream: got %q; want it as stored", b.B)
	}
}

func BenchmarkParse(b *testing.B) {
	doc := []byte(`{"network":"tcp","addr":"127.0.0.1:6379","db":1,"username":"","password":"","tls":null,
		"connect_timeout":0,"socket_timeout":0.5,"max_connections":0,"pool_timeout":0,"codec":{"compressor":"zlib","level":0,"min_len":0,"max_ratio":0}}`)
	for b.Loop() {
		if _, err := Parse(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func TestOpenNearCacheLayouts(t *testing.T) {
	cases := []struct {
		doc         string
		wantTracked int64 // tracked servers before the first read (a Cluster's seeds)
	}{
		{`{"local_cache": {}}`, 1},
		{`{"local_cache": {}, "servers":[{"addr":"a:1"},{"addr":"b:1"},{"addr":"c:1"}]}`, 3},
		{`{"local_cache": {}, "mode": "copy", "servers":[{"addr":"a:1"},{"addr":"b:1"}]}`, 2},
		{`{"local_cache": {}, "mode": "primary", "servers":[{"addr":"a:1"},{"addr":"b:1"},{"addr":"c:1"}]}`, 1},
		{`{"local_cache": {}, "topology":{"kind":"cluster","addrs":["a:1","b:1"]}}`, 2},
	}
	for _, c := range cases {
		cfg, err := Parse([]byte(c.doc))
		if err != nil {
			t.Fatalf("%s: %v", c.doc, err)
		}
		opened, err := Open(cfg)
		if err != nil {
			t.Fatalf("%s: got error %v; want none", c.doc, err)
		}
		st, ok := opened.NearStats()
		opened.Close()
		if !ok || st.Tracked != c.wantTracked {
			t.Errorf("%s: near-cache %v tracking %d servers; want %d", c.doc, ok, st.Tracked, c.wantTracked)
		}
	}
}
