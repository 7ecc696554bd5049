package gotests

import (
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

// TestCABI compiles a C program against the hand-written header and the
// built library, and runs it against a real server: scratch buffer and
// overflow results, frames, statuses, the fork guard, panic recovery and
// handle lifetime, all through the public C entry points.
func TestCABI(t *testing.T) {
	lib := libraryPath(t)
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
	cc := exec.Command("gcc", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Werror",
		"-I", filepath.Join(root, "capi"),
		"-o", bin, filepath.Join(root, "tests", "go", "abi", "abi_check.c"),
		"-L", dir, "-lredis_cache_go", "-Wl,-rpath,"+dir)
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
