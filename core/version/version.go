// Package version holds the release version shared by the Go core, the C
// library and the Python package (whose __version__ a test keeps equal).
package version

// Version is the release version, semantic versioning.
const Version = "0.1.0"
