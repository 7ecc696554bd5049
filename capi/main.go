// Command capi is the C shared library libredis_cache_go.so: the only
// package that imports "C". Its contract is the hand-written header
// redis_cache_go.h; guard.c holds the public entry points (fork guard) and
// exports.go the Go functions behind them.
//
// Build: go build -buildmode=c-shared -o build/libredis_cache_go.so ./capi
package main

func main() {}
