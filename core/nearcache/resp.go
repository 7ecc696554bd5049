package nearcache

import (
	"bufio"
	"errors"
	"fmt"
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

const maxBulk = 512 << 20 // Redis' own limit for a string

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

// readValue reads one RESP3 value: string (simple), []byte (bulk), int64,
// nil, []any (array, set, map as flat pairs), push, or respError.
func readValue(r *bufio.Reader) (any, error) {
	line, err := readLine(r)
	if err != nil {
		return nil, err
	}
	if len(line) == 0 {
		return nil, errProtocol
	}
	body := string(line[1:])
	switch line[0] {
	case '+', ',', '#', '(':
		return body, nil
	case '-':
		return respError(body), nil
	case '_':
		return nil, nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$', '=', '!':
		n, err := strconv.Atoi(body)
		if err != nil || n > maxBulk {
			return nil, errProtocol
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := ioReadFull(r, buf); err != nil {
			return nil, err
		}
		if line[0] == '!' {
			return respError(buf[:n]), nil
		}
		return buf[:n], nil
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, errProtocol
		}
		if n < 0 {
			return nil, nil
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		items := make([]any, 0, min(n, 1024))
		for i := 0; i < n; i++ {
			v, err := readValue(r)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
		}
		switch line[0] {
		case '>':
			return push(items), nil
		case '|': // an attribute precedes the value it describes
			return readValue(r)
		}
		return items, nil
	}
	return nil, fmt.Errorf("%w: unknown type byte %q", errProtocol, line[0])
}

func ioReadFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
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
