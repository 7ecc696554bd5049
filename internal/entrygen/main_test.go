package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The committed capi/entries.c is what the headers make: a header change
// without `go generate ./capi` fails here.
func TestEntriesAreGeneratedFromTheHeaders(t *testing.T) {
	dir := filepath.Join("..", "..", "capi")
	got, err := os.ReadFile(filepath.Join(dir, Output))
	if err != nil {
		t.Fatal(err)
	}
	want, err := Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("capi/%s is out of date with the headers: run go generate ./capi", Output)
	}
}

func TestEntryPoints(t *testing.T) {
	header := `
/* a comment with int rcg_fake(void); inside */
#define RCG_OP_GET 1
#define RCG_OP_LOCK_EXTEND 18
int rcg_version(rcg_out *out);
int rcg_get(uintptr_t handle, rcg_out *out, const uint8_t *key, size_t key_len);
int rcg_lock_extend(uintptr_t handle, rcg_out *out, const uint8_t *key, size_t key_len,
                    const uint8_t *token, size_t token_len, int64_t ttl_ms, int replace);
void rcg_free(void *p);
`
	protos, codes, err := Parse(header)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, want string }{
		{"rcg_version", "rcgx_version(out)"},
		{"rcg_get", "rcgx_op(RCG_OP_GET, handle, out, (uint8_t *)key, key_len, NULL, 0, 0, 0, 0, 0)"},
		{"rcg_lock_extend", "rcgx_op(RCG_OP_LOCK_EXTEND, handle, out, (uint8_t *)key, key_len, (uint8_t *)token, token_len, ttl_ms, replace, 0, 0)"},
	}
	if len(protos) != len(tests) {
		t.Fatalf("got %d prototypes; want %d (comments and void functions skipped)", len(protos), len(tests))
	}
	for i, tt := range tests {
		if protos[i].Name != tt.name {
			t.Fatalf("prototype %d: got %s; want %s", i, protos[i].Name, tt.name)
		}
		got, err := protos[i].body(codes)
		if err != nil || got != tt.want {
			t.Errorf("%s: got %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestOperationsThatCannotBeMappedAreRefused(t *testing.T) {
	tests := []struct{ header, want string }{
		{"#define RCG_OP_X 1\nint rcg_x(uintptr_t handle, rcg_out *out, double d);", "bytes and integers only"},
		{"#define RCG_OP_X 1\nint rcg_x(uintptr_t handle, rcg_out *out, const uint8_t *k);", "not followed by its size_t length"},
		{"#define RCG_OP_X 1\nint rcg_x(rcg_out *out, uintptr_t handle);", "first parameters"},
		{"#define RCG_OP_X 1\nint rcg_x(uintptr_t handle, rcg_out *out, int a, int b, int c, int d, int e);", "at most"},
		{"int rcg_x(uintptr_t handle);", "no 'rcg_out *out'"},
	}
	for _, tt := range tests {
		protos, codes, err := Parse(tt.header)
		if err != nil {
			t.Fatal(err)
		}
		_, err = protos[0].body(codes)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v; want an error containing %q", tt.header, err, tt.want)
		}
	}
}
