// Command capi is the C shared library libredis_cache_go.so: the only
// package that imports "C". Its contract is the hand-written header
// redis_cache_go.h; entries.c holds the public entry points (generated from
// the headers: the fork guard of guard.h, then Go), exports.go the Go
// functions behind them and ops.go the operations by RCG_OP_* code.
//
// Build: go build -buildmode=c-shared -o build/libredis_cache_go.so ./capi
package main

//go:generate go run ../internal/entrygen

func main() {}
