package version

import (
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// semver is the shape PEP 440 and Go module versions both accept: X.Y.Z with
// an optional pre-release such as "rc1" or ".dev2".
var semver = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+([.-]?(a|b|rc|dev)[0-9]+)?$`)

func TestVersionIsTheVersionFile(t *testing.T) {
	raw, err := os.ReadFile("VERSION")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	if got, want := Version, strings.TrimSpace(text); got != want {
		t.Errorf("Version = %q; want %q (the VERSION file)", got, want)
	}
	if strings.Count(text, "\n") != 1 || !strings.HasSuffix(text, "\n") {
		t.Errorf("VERSION = %q; want exactly one line ending in a newline", text)
	}
	if !semver.MatchString(Version) {
		t.Errorf("Version = %q; want X.Y.Z with an optional a/b/rc/dev suffix", Version)
	}
}

func TestBuild(t *testing.T) {
	info := Build()
	tests := []struct {
		name, got, want string
	}{
		{"Version", info.Version, Version},
		{"GoVersion", info.GoVersion, runtime.Version()},
		{"Settings[GOOS]", info.Settings["GOOS"], runtime.GOOS},
		{"Settings[GOARCH]", info.Settings["GOARCH"], runtime.GOARCH},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("Build().%s = %q; want %q", tt.name, tt.got, tt.want)
		}
	}
	if info.Deps == nil {
		t.Error("Build().Deps = nil; want a non-nil slice (JSON [] rather than null)")
	}
}

func BenchmarkBuild(b *testing.B) {
	for b.Loop() {
		Build()
	}
}
