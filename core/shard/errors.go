package shard

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/ring"
)

// Error reports an operation that failed on some or all of the servers it
// involved. Failed holds one error per failed server (each an
// *client.Error naming its server), in LOCATION order, so client.KindOf
// and errors.As see the first failure's kind.
type Error struct {
	Op     string  // the cache operation, e.g. "SET" or "GET_MANY"
	Failed []error // one per failed server
	Of     int     // how many servers the operation involved
}

// Error returns "SET failed on 1 of 3 servers: redis 127.0.0.1:6380 db 0: SET: connection error: …".
func (e *Error) Error() string {
	parts := make([]string, len(e.Failed))
	for i, err := range e.Failed {
		parts[i] = err.Error()
	}
	return fmt.Sprintf("%s failed on %d of %d servers: %s", e.Op, len(e.Failed), e.Of, strings.Join(parts, "; "))
}

// Unwrap returns the per-server errors.
func (e *Error) Unwrap() []error { return e.Failed }

// Partial reports whether some servers succeeded (the write is on them).
func (e *Error) Partial() bool { return len(e.Failed) < e.Of }

// configError is an invalid Options value.
func configError(format string, args ...any) error {
	return &client.Error{Kind: client.KindArgument, Server: "shard", Op: "configure", Err: fmt.Errorf(format, args...)}
}

// isOutage reports whether err means the server cannot serve right now: it
// is unreachable, or it answered that it is loading its data set (LOADING)
// or is a replica cut off from its primary (MASTERDOWN). Any other error
// reply would come from another server too, so it is not an outage.
func isOutage(err error) bool {
	switch client.KindOf(err) {
	case client.KindConnection, client.KindTimeout:
		return true
	case client.KindServer:
		msg := err.Error()
		return strings.Contains(msg, "LOADING ") || strings.Contains(msg, "MASTERDOWN ")
	}
	return false
}

// defaultName is the seed identifier repr a plain host:port (or socket
// path) LOCATION entry gives.
func defaultName(o client.Options) string {
	if o.Network == "unix" || strings.HasPrefix(o.Addr, "/") {
		path := o.Addr
		return ring.Identifier(nil, nil, o.DB, &path)
	}
	host, portText, err := net.SplitHostPort(o.Addr)
	if err != nil {
		host, portText = o.Addr, "6379"
	}
	port, _ := strconv.Atoi(portText)
	return ring.Identifier(&host, &port, o.DB, nil)
}
