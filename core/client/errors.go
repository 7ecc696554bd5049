package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/redis-cache-go/redis-cache-go/core/respguard"
	"github.com/redis-cache-go/redis-cache-go/core/wire"
)

// Kind classifies a failure so that callers (and the C ABI) can react to
// the class of problem without parsing messages.
type Kind int

// The kinds of failure. A miss is never an error; it is reported by a
// boolean result.
const (
	// KindConnection: the server could not be reached or the connection
	// broke (refused, reset, closed, DNS failure).
	KindConnection Kind = iota + 1
	// KindTimeout: a connect, read, write or pool wait timed out.
	KindTimeout
	// KindAuth: the server rejected the credentials or the user lacks a
	// permission.
	KindAuth
	// KindServer: the server answered the command with an error reply.
	KindServer
	// KindClosed: the Client was closed.
	KindClosed
	// KindArgument: the caller passed an invalid argument; nothing was sent.
	KindArgument
)

// String names the kind in lower case ("timeout").
func (k Kind) String() string {
	switch k {
	case KindConnection:
		return "connection error"
	case KindTimeout:
		return "timeout"
	case KindAuth:
		return "authentication error"
	case KindServer:
		return "server error"
	case KindClosed:
		return "client closed"
	case KindArgument:
		return "invalid argument"
	}
	return "error"
}

// Error is the only error type the Client returns. Its message names the
// server (never its password) and the operation.
type Error struct {
	Kind   Kind
	Server string // Options.String(): address and db, no credentials
	Op     string // the Redis command or cache operation, e.g. "GET"
	Err    error  // the underlying error
}

// Error returns "redis 127.0.0.1:6379 db 0: GET: timeout: i/o timeout".
func (e *Error) Error() string {
	return e.Server + ": " + e.Op + ": " + e.Kind.String() + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of err when it is (or wraps) an *Error, else 0.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// wrap classifies err from go-redis into an *Error; nil stays nil.
func (c *Client) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	kind := classify(err)
	if kind == KindConnection {
		err = notRedis(err)
	}
	if c.reload != nil && (kind == KindConnection || kind == KindTimeout || kind == KindServer) {
		c.reload() // a node may have gone: refresh the topology in the background
	}
	if kind == KindAuth {
		// Name the user (never the password) so a wrong ACL user is obvious.
		user := "the default user"
		if c.user != "" {
			user = "user " + strconv.Quote(c.user)
		}
		err = fmt.Errorf("%w (authenticating as %s)", err, user)
	}
	return &Error{Kind: kind, Server: c.name, Op: op, Err: err}
}

func classify(err error) Kind {
	var final *finalError
	if errors.As(err, &final) { // opaque on purpose (see resend.go): look inside
		return classify(final.err)
	}
	var unknown *unknownServiceError
	if errors.As(err, &unknown) { // the Sentinels answered (sentinel.go)
		return KindServer
	}
	if errors.Is(err, redis.ErrClosed) || errors.Is(err, wire.ErrClosed) {
		return KindClosed
	}
	if errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, syscall.ETIMEDOUT) {
		return KindTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return KindTimeout
	}
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		if isAuthMessage(msg) {
			return KindAuth
		}
		return KindServer
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return KindConnection
	}
	if isAuthMessage(err.Error()) {
		return KindAuth
	}
	return KindConnection
}

// isAuthMessage recognises the replies of AUTH failures across Redis
// versions: WRONGPASS (6+), NOAUTH, NOPERM and the pre-6 "invalid password".
func isAuthMessage(msg string) bool {
	for _, p := range []string{"WRONGPASS", "NOAUTH", "NOPERM", "ERR invalid password", "ERR AUTH", "ERR Client sent AUTH"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// goRedisParseErrors start the messages of go-redis' reply parser that quote
// the bytes it could not parse.
var goRedisParseErrors = []string{"redis: invalid reply: ", "redis: can't parse "}

// notRedis adds wire.ErrNotRedis to a go-redis parse error whose quoted
// reply starts with a byte no Redis reply starts with (the wire client's own
// errors already carry it); other errors are returned unchanged.
func notRedis(err error) error {
	if errors.Is(err, wire.ErrNotRedis) {
		return err
	}
	var bad *respguard.Error
	if errors.As(err, &bad) && bad.Got != nil {
		return fmt.Errorf("%w: %w", err, wire.NotRedisHint(bad.Got))
	}
	msg := err.Error()
	for _, p := range goRedisParseErrors {
		i := strings.Index(msg, p)
		if i < 0 {
			continue
		}
		rest := msg[i+len(p):]
		q := strings.IndexByte(rest, '"')
		if q < 0 {
			continue
		}
		quoted, qerr := strconv.QuotedPrefix(rest[q:])
		got, uerr := strconv.Unquote(quoted)
		if qerr == nil && uerr == nil && got != "" && !wire.StartsReply(got[0]) {
			return fmt.Errorf("%w: %w", err, wire.ErrNotRedis)
		}
	}
	return err
}
