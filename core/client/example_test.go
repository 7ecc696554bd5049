package client_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strconv"

	"github.com/redis-cache-go/redis-cache-go/core/client"
)

// A Go service reads a counter that a Django site keeps with
// cache.set("visits", 41) and cache.incr("visits") under KEY_PREFIX "shop"
// and VERSION 1: Django stores plain ints as decimal text at
// "<prefix>:<version>:<key>". The server address comes from REDIS_ADDR
// (make test sets it).
func Example() {
	ctx := context.Background()
	c := client.New(client.Options{Addr: os.Getenv("REDIS_ADDR"), DB: 0})
	defer c.Close()

	// What the Django site did (the same bytes RedisCache writes).
	if _, err := c.Set(ctx, "shop:1:visits", []byte("41"), 0, false); err != nil {
		log.Fatal(err)
	}
	if _, _, err := c.Incr(ctx, "shop:1:visits", 1); err != nil {
		log.Fatal(err)
	}

	// The Go service reads it.
	raw, found, err := c.Get(ctx, "shop:1:visits")
	if err != nil {
		log.Fatal(err)
	}
	visits, _ := strconv.Atoi(string(raw))
	fmt.Println(found, visits)
	// Output: true 42
}
