package codec_test

import (
	"bytes"
	"fmt"

	"github.com/redis-cache-go/redis-cache-go/core/codec"
)

// A Go service reading what a Django site stored, whichever compressor the
// site used: Decode recognises the format by its magic bytes.
func Example() {
	c, err := codec.New(codec.Options{Format: codec.Zstd, MinLen: 16})
	if err != nil {
		panic(err)
	}
	pickled := bytes.Repeat([]byte("a cached page "), 100)
	stored, _ := c.Encode(pickled)
	value, format, _ := codec.Decode(stored)
	fmt.Println(format, len(stored) < len(pickled), bytes.Equal(value, pickled))

	counter, _ := c.Encode([]byte("12345678901234567890")) // plain ints stay raw, for INCR
	fmt.Println(string(counter))
	// Output:
	// zstd true true
	// 12345678901234567890
}
