package nearcache

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
)

// The tracking connection's RESP3 reader: just enough of the protocol to
// read HELLO's map, status replies, errors and push messages, skipping any
// other type it meets.

// push is a RESP3 push message (">"): its items.
type push []any

// respError is an error reply ("-" or "!").
type respError string

func (e respError) Error() string { return string(e) }

// Limits on what a reply may declare: maxLen bounds a bulk string's length
// and an aggregate's item count (512 MiB is Redis' own proto-max-bulk-len);
// maxDepth bounds nesting (the outermost aggregate is level 1; HELLO's map
// of module maps is 3 deep, an invalidation push 2). bulkPrealloc: a longer
// bulk string grows as its bytes arrive, so a length that is declared but
// never sent costs only what was received.
const (
	maxLen       = 512 << 20
	maxDepth     = 8
	bulkPrealloc = 64 << 10
)

var errProtocol = errors.New("nearcache: RESP protocol error")

func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, errProtocol
	}
	return line[:len(line)-2], nil
}

// readLen parses a length: -1 (null) or 0..maxLen.
func readLen(body string) (int, error) {
	n, err := strconv.Atoi(body)
	if err != nil || n < -1 || n > maxLen {
		return 0, fmt.Errorf("%w: length %q out of range", errProtocol, body)
	}
	return n, nil
}

// readValue reads one RESP3 value: string (simple), []byte (bulk), int64,
// nil, []any (array, set, map as flat pairs), push, or respError.
func readValue(r *bufio.Reader) (any, error) { return readNested(r, 1) }

// readNested reads a value at nesting level depth (1: not inside an
// aggregate); an aggregate deeper than maxDepth is a protocol error.
func readNested(r *bufio.Reader, depth int) (any, error) {
	for {
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			return nil, errProtocol
		}
		// line is bufio's own buffer, overwritten by the next read (an
		// aggregate's items): keep the type byte, as body is copied.
		kind, body := line[0], string(line[1:])
		switch kind {
		case '+', ',', '#', '(':
			return body, nil
		case '-':
			return respError(body), nil
		case '_':
			return nil, nil
		case ':':
			return strconv.ParseInt(body, 10, 64)
		case '$', '=', '!':
			n, err := readLen(body)
			if err != nil || n < 0 {
				return nil, err
			}
			buf, err := readBulk(r, n)
			if err != nil {
				return nil, err
			}
			if kind == '!' {
				return respError(buf), nil
			}
			return buf, nil
		case '*', '~', '>', '%', '|':
			n, err := readLen(body)
			if err != nil || n < 0 {
				return nil, err
			}
			if depth > maxDepth {
				return nil, fmt.Errorf("%w: reply nested more than %d levels deep", errProtocol, maxDepth)
			}
			if kind == '%' || kind == '|' {
				n *= 2
			}
			items := make([]any, 0, min(n, 1024))
			for i := 0; i < n; i++ {
				v, err := readNested(r, depth+1)
				if err != nil {
					return nil, err
				}
				items = append(items, v)
			}
			switch kind {
			case '>':
				return push(items), nil
			case '|': // an attribute precedes the value it describes: read on,
				depth++ // a level deeper, so a chain of them ends at maxDepth
				continue
			}
			return items, nil
		default:
			return nil, fmt.Errorf("%w: unknown type byte %q", errProtocol, kind)
		}
	}
}

// readBulk reads n bytes and their CRLF. Up to bulkPrealloc bytes are
// allocated at once; beyond, the buffer doubles as the bytes arrive.
func readBulk(r *bufio.Reader, n int) ([]byte, error) {
	buf := make([]byte, min(n, bulkPrealloc))
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	for len(buf) < n {
		buf = slices.Grow(buf, min(len(buf), n-len(buf)))
		at := len(buf)
		buf = buf[:min(cap(buf), n)]
		if _, err := io.ReadFull(r, buf[at:]); err != nil {
			return nil, err
		}
	}
	var crlf [2]byte
	if _, err := io.ReadFull(r, crlf[:]); err != nil {
		return nil, err
	}
	if crlf != [2]byte{'\r', '\n'} {
		return nil, errProtocol
	}
	return buf, nil
}

// appendCommand appends args as a RESP array of bulk strings.
func appendCommand(b []byte, args ...string) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}

// text returns v as a string when it is a simple or bulk string.
func text(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	}
	return "", false
}
