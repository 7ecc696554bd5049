package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	opts, err := parseConfig([]byte(`{"network":"unix","addr":"/tmp/r.sock","db":3,"username":"u","password":"p",
		"connect_timeout":1.5,"socket_timeout":0.25,"max_connections":7,"pool_timeout":2}`))
	if err != nil {
		t.Fatalf("parseConfig: got error %v; want nil", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"network", opts.Network, "unix"},
		{"addr", opts.Addr, "/tmp/r.sock"},
		{"db", opts.DB, 3},
		{"username", opts.Username, "u"},
		{"password", opts.Password, "p"},
		{"dial timeout", opts.DialTimeout, 1500 * time.Millisecond},
		{"read timeout", opts.ReadTimeout, 250 * time.Millisecond},
		{"pool size", opts.PoolSize, 7},
		{"pool timeout", opts.PoolTimeout, 2 * time.Second},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v; want %v", c.name, c.got, c.want)
		}
	}
}

func TestParseConfigRejects(t *testing.T) {
	cases := []struct {
		doc, wantInMsg string
	}{
		{`not json`, "invalid configuration"},
		{`{"adress":"x"}`, "unknown field"},
		{`{"network":"udp"}`, "network"},
		{`{"db":-1}`, "db"},
		{`{"socket_timeout":-1}`, "socket_timeout"},
		{`{"max_connections":-3}`, "max_connections"},
		{`{"tls":{"cert_reqs":"maybe"}}`, "cert_reqs"},
		{`{"tls":{"ca_file":"/nonexistent/ca.pem"}}`, "ca_file"},
		{`{"tls":{"cert_file":"/x.pem"}}`, "together"},
	}
	for _, c := range cases {
		_, err := parseConfig([]byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.wantInMsg) {
			t.Errorf("parseConfig(%s): got %v; want an error mentioning %q", c.doc, err, c.wantInMsg)
		}
	}
}

func TestParseConfigTLS(t *testing.T) {
	opts, err := parseConfig([]byte(`{"addr":"h:1","tls":{"cert_reqs":"none","server_name":"cache"}}`))
	if err != nil {
		t.Fatalf("got error %v", err)
	}
	if opts.TLS == nil || !opts.TLS.InsecureSkipVerify || opts.TLS.ServerName != "cache" {
		t.Fatalf("got TLS %+v; want InsecureSkipVerify and ServerName cache", opts.TLS)
	}
}
