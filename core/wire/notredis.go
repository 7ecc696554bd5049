package wire

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrNotRedis is wrapped by the error of a reply that no Redis server would
// send: its first byte starts no RESP reply (an HTTP, TLS or SSH server on
// the cache's port). The message names the likely mistake instead of a bare
// protocol error or "EOF"; errors.Is(err, ErrNotRedis) tells it apart.
var ErrNotRedis = errors.New("the peer does not speak the Redis protocol (is this the address of a Redis server?)")

// respFirstBytes holds the first byte of every RESP2 and RESP3 reply type.
const respFirstBytes = "+-:$*_,#!=(%~>|"

// StartsReply reports whether b can be the first byte of a Redis reply.
func StartsReply(b byte) bool { return strings.IndexByte(respFirstBytes, b) >= 0 }

// notRedis is the error for a reply line (or, closed: the bytes the peer sent
// before closing the connection, wrapping io.EOF) that starts with a byte no
// Redis reply starts with.
func notRedis(got []byte, closed bool) error {
	shown := got
	if len(shown) > 64 {
		shown = shown[:64]
	}
	hint := NotRedisHint(got)
	if closed {
		return fmt.Errorf("wire: protocol error: the peer sent %q and closed the connection (%w): %w", shown, io.EOF, hint)
	}
	return fmt.Errorf("wire: protocol error: unexpected reply %q: %w", shown, hint)
}

// NotRedisHint is the error to wrap for a peer that answered got, which no
// Redis reply starts like: ErrNotRedis, saying also to write rediss:// when
// got is a TLS record.
func NotRedisHint(got []byte) error {
	if len(got) > 0 && (got[0] == 0x15 || got[0] == 0x16) { // a TLS alert or handshake record
		return fmt.Errorf("%w; it answered with TLS: write the LOCATION entry as rediss://", ErrNotRedis)
	}
	return ErrNotRedis
}
