package main

import (
	"strings"
	"testing"
)

func TestParseTopology(t *testing.T) {
	opts, err := parseDocument([]byte(`{"addr":"127.0.0.1:7000","topology":{"kind":"cluster","addrs":["127.0.0.1:7000","127.0.0.1:7001"],"read_from_replicas":true}}`))
	if err != nil {
		t.Fatalf("cluster document: got error %v; want nil", err)
	}
	topo := opts.Servers[0].Topology
	if topo == nil || !topo.Cluster || len(topo.Addrs) != 2 || !topo.ReadFromReplicas {
		t.Fatalf("cluster document: got topology %+v; want a cluster of 2 seeds reading replicas", topo)
	}
	opts, err = parseDocument([]byte(`{"db":2,"topology":{"kind":"sentinel","addrs":["127.0.0.1:26379"],"service":"mymaster","sentinel_password":"sp"}}`))
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

func TestParseTopologyRejects(t *testing.T) {
	cases := []struct{ doc, wantInMsg string }{
		{`{"db":1,"topology":{"kind":"cluster","addrs":["a:1"]}}`, "only db 0"},
		{`{"topology":{"kind":"sentinel","addrs":["a:1"]}}`, "service"},
		{`{"topology":{"kind":"cluster","addrs":[]}}`, "at least one address"},
		{`{"topology":{"kind":"ring","addrs":["a:1"]}}`, "cluster or sentinel"},
	}
	for _, c := range cases {
		_, err := parseDocument([]byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.wantInMsg) {
			t.Errorf("%s: got error %v; want one containing %q", c.doc, err, c.wantInMsg)
		}
	}
}
