package main

import (
	"strings"
	"testing"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/shard"
)

func TestParseDocumentServers(t *testing.T) {
	opts, err := parseDocument([]byte(`{"socket_timeout":0.5,"mode":"primary","primary":1,
		"servers":[{"addr":"a:1","db":2,"name":"('a', 1, 2, None)","weight":2},
		           {"network":"unix","addr":"/s.sock","db":3,"password":"p","name":"(None, None, 3, '/s.sock')"}]}`))
	if err != nil {
		t.Fatalf("parseDocument: %v", err)
	}
	if opts.Mode != shard.Primary || opts.Primary != 1 || len(opts.Servers) != 2 {
		t.Fatalf("got mode %v primary %d servers %d", opts.Mode, opts.Primary, len(opts.Servers))
	}
	s0, s1 := opts.Servers[0], opts.Servers[1]
	if s0.Addr != "a:1" || s0.DB != 2 || s0.ReadTimeout != 500*time.Millisecond {
		t.Errorf("server 0: %+v", s0)
	}
	if s1.Network != "unix" || s1.Password != "p" || s1.ReadTimeout != 500*time.Millisecond {
		t.Errorf("server 1: %+v", s1)
	}
	if len(opts.Weights) != 2 || opts.Weights[0] != 2 || opts.Weights[1] != 1 {
		t.Errorf("weights %v; want [2 1]", opts.Weights)
	}
	if opts.Names[1] != "(None, None, 3, '/s.sock')" {
		t.Errorf("names %v", opts.Names)
	}
}

func TestParseDocumentOneServer(t *testing.T) {
	opts, err := parseDocument([]byte(`{"addr":"h:1","db":4}`))
	if err != nil || len(opts.Servers) != 1 || opts.Servers[0].Addr != "h:1" || opts.Servers[0].DB != 4 {
		t.Fatalf("got %+v, %v", opts, err)
	}
}

func TestParseDocumentRejects(t *testing.T) {
	cases := []struct{ doc, want string }{
		{`{"servers":[{"addr":"a:1"}],"mode":"mirror"}`, "mode"},
		{`{"servers":[{"addr":"a:1"}],"hash_ring":"ketama"}`, "hash_ring"},
		{`{"servers":[{"addr":"a:1"}],"mode":"primary","primary":2}`, "primary"},
		{`{"servers":[{"addr":"a:1","name":"x"},{"addr":"b:1"}]}`, "name missing"},
		{`{"servers":[{"addr":"a:1","db":-1}]}`, "server 0"},
		{`{"servers":[{"addr":"a:1","weight":-2}]}`, "weight"},
		{`{"servers":[{"adr":"a:1"}]}`, "unknown field"},
	}
	for _, c := range cases {
		if _, err := parseDocument([]byte(c.doc)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseDocument(%s): got %v; want an error mentioning %q", c.doc, err, c.want)
		}
	}
}

func TestParseDocumentHashRings(t *testing.T) {
	for ring, want := range map[string]shard.HashRing{"": shard.SeedRing, "seed": shard.SeedRing,
		"kidoredis": shard.KidoredisRing, "django-redis": shard.DjangoRedisRing} {
		opts, err := parseDocument([]byte(`{"mode":"ring","hash_ring":"` + ring + `","servers":[
			{"addr":"a:1","name":"redis://a:1/0"},{"addr":"b:1","name":"redis://b:1/0"}]}`))
		if err != nil || opts.HashRing != want {
			t.Errorf("hash_ring %q: got %q, %v; want %q", ring, opts.HashRing, err, want)
		}
	}
}
