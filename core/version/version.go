// Package version holds the release version of redis-cache-go and the build
// information of the running binary.
//
// The version's single source is the file VERSION beside this package: Go
// embeds it, setup.py reads it for the Python distribution's metadata and
// refuses to build when the Python package's __version__ says otherwise, and
// tests/python/test_version.py compares all of them.
package version

import (
	_ "embed"
	"runtime"
	"runtime/debug"
	"strings"
)

//go:embed VERSION
var versionFile string

// Version is the release version (semantic versioning): the text of the
// VERSION file, without surrounding white space.
var Version = strings.TrimSpace(versionFile)

// Module is one Go module that went into the binary.
type Module struct {
	// Path is the module path, e.g. "github.com/redis/go-redis/v9".
	Path string `json:"path"`
	// Version is the module version; "(devel)" for a main module built from
	// a source tree.
	Version string `json:"version"`
	// Sum is the go.sum checksum; empty for the main module.
	Sum string `json:"sum,omitempty"`
	// Replace is the module that replaced this one (a go.mod replace), or nil.
	Replace *Module `json:"replace,omitempty"`
}

// Info describes how the running binary was built.
type Info struct {
	// Version is this package's Version.
	Version string `json:"version"`
	// GoVersion is the Go toolchain that built the binary, e.g. "go1.26.8".
	GoVersion string `json:"go_version"`
	// Path is the main package's import path (for the C library, .../capi).
	Path string `json:"path"`
	// Main is the main module.
	Main Module `json:"main"`
	// Settings are the build settings the toolchain recorded: -buildmode,
	// -trimpath, -ldflags, CGO_ENABLED, GOOS, GOARCH, GOAMD64, vcs.* ...
	Settings map[string]string `json:"settings"`
	// Deps are the other modules linked in, in the toolchain's order.
	Deps []Module `json:"deps"`
}

// Build returns the running binary's build information from
// runtime/debug.ReadBuildInfo. A binary without it (built without module
// support) gets Version and GoVersion (runtime.Version) only.
func Build() Info {
	info := Info{Version: Version, GoVersion: runtime.Version(), Settings: map[string]string{}, Deps: []Module{}}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	info.Path = bi.Path
	info.Main = module(&bi.Main)
	for _, s := range bi.Settings {
		info.Settings[s.Key] = s.Value
	}
	for _, d := range bi.Deps {
		info.Deps = append(info.Deps, module(d))
	}
	return info
}

func module(m *debug.Module) Module {
	out := Module{Path: m.Path, Version: m.Version, Sum: m.Sum}
	if m.Replace != nil {
		r := module(m.Replace)
		out.Replace = &r
	}
	return out
}
