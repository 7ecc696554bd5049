package cache

import (
	"testing"
	"unsafe"

	"github.com/redis-cache-go/redis-cache-go/internal/redistest"
)

// A rejection is queued for Rejections after the read returned: its key
// must not view the caller's buffer (capi passes keys borrowed from C
// memory, reused once the call is over).
func TestRejectionKeepsItsKeyAfterTheCall(t *testing.T) {
	srv := redistest.Start(t)
	c := open(t, srv, Config{Protection: &Protection{Mode: "sign", Secrets: []string{"s"}}})
	srv.Do(t, "SET", ":1:victim", "not sealed")
	buf := []byte(":1:victim")
	var b Buffer
	if ok, err := c.Get(ctx, str(buf), &b); ok || err != nil {
		t.Fatalf("Get of an unsealed value: got %v, %v; want a miss", ok, err)
	}
	copy(buf, "XXXXXXXXX") // the caller reuses its buffer
	got, dropped := c.Rejections()
	if len(got) != 1 || dropped != 0 || got[0].Key != ":1:victim" {
		t.Fatalf("Rejections: got %+v, %d dropped; want one for key \":1:victim\"", got, dropped)
	}
	// and the per-key memory of the log holds the key, not the buffer
	copy(buf, ":1:victim")
	c.Get(ctx, str(buf), &b)
	if got, _ := c.Rejections(); len(got) != 0 {
		t.Fatalf("a second rejection within a minute was logged again: %+v", got)
	}
}

// str views b as a string without copying, as capi does with its callers' keys.
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
