package gotests

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// libraryPath is the built shared library: $RCG_LIBRARY (make test sets it)
// or build/libredis_cache_go.so.
func libraryPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("RCG_LIBRARY")
	if p == "" {
		p = filepath.Join(repoRoot(t), "build", "libredis_cache_go.so")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("shared library %s not found: run `make build` first (%v)", p, err)
	}
	return p
}

// hasDebugExports reports whether the library at path was built with -tags
// rcgdebug: whether it exports rcg_debug_panic (capi/redis_cache_go_debug.h).
func hasDebugExports(t *testing.T, path string) bool {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == "rcg_debug_panic" && s.Section != elf.SHN_UNDEF {
			return true
		}
	}
	return false
}

// TestCABI compiles a C program against the hand-written header and the
// built library, and runs it against a real server: scratch buffer and
// overflow results, frames, statuses, the fork guard and handle lifetime,
// all through the public C entry points; with a library built with -tags
// rcgdebug (make test-capi uses one, and sets RCG_CABI_DEBUG=1 to insist on
// it) also panic recovery and the repeat loop, through redis_cache_go_debug.h.
func TestCABI(t *testing.T) {
	lib := libraryPath(t)
	debug := hasDebugExports(t, lib)
	if os.Getenv("RCG_CABI_DEBUG") == "1" && !debug {
		t.Fatalf("RCG_CABI_DEBUG=1 but %s has no rcg_debug_* exports: build it with -tags rcgdebug", lib)
	}
	if !debug {
		t.Logf("%s is a production build (no -tags rcgdebug): panic recovery is checked by make test-capi", lib)
	}
	s := startRedis(t)
	root := repoRoot(t)
	dir := t.TempDir()
	// Link against a copy named libredis_cache_go.so in a private folder.
	data, err := os.ReadFile(lib)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "libredis_cache_go.so"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "abi_check")
	args := []string{"-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Werror"}
	if debug {
		args = append(args, "-DRCG_DEBUG")
	}
	args = append(args, "-I", filepath.Join(root, "capi"),
		"-o", bin, filepath.Join(root, "tests", "go", "abi", "abi_check.c"),
		"-L", dir, "-lredis_cache_go", "-Wl,-rpath,"+dir)
	// $CC, as cgo reads it: a cross build (GOARCH=arm64 CC=aarch64-linux-gnu-gcc, `make
	// test-arm64`) compiles abi_check.c for the library's architecture.
	compiler := os.Getenv("CC")
	if compiler == "" {
		compiler = "gcc"
	}
	cc := exec.Command(compiler, args...)
	if out, err := cc.CombinedOutput(); err != nil {
		t.Fatalf("compile abi_check.c: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, s.Addr).CombinedOutput()
	t.Logf("abi_check output:\n%s", out)
	if err != nil {
		t.Fatalf("abi_check failed: %v", err)
	}
	if !strings.Contains(string(out), "PASS") {
		t.Fatalf("abi_check did not report PASS")
	}
}
