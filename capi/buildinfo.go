package main

/*
#include "redis_cache_go.h"
*/
import "C"

import (
	"encoding/json"

	"github.com/redis-cache-go/redis-cache-go/core/version"
)

// rcgx_build_info writes version.Build() as a JSON document: how this
// library was built (Go version, module, build settings, dependencies).
//
//export rcgx_build_info
func rcgx_build_info(out *C.rcg_out) (status C.int) {
	defer guard(0, out, &status)
	reset(out)
	doc, err := json.Marshal(version.Build())
	if err != nil {
		putMessage(out, "redis-cache-go: build info: "+err.Error())
		return C.RCG_ERR_INTERNAL
	}
	putBytes(out, doc)
	return C.RCG_OK
}
