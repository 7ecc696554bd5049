package ring

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Identifier returns the seed's ring node name for a server: Python's repr()
// of the tuple (host, port, db, unix_socket_path), e.g.
// "('127.0.0.1', 6381, 15, None)". A nil host, port or socket path is
// Python's None. The Python package computes the same text from the parsed
// LOCATION entry and is the reference; this lets Go callers build the ring
// without Python.
func Identifier(host *string, port *int, db int, socketPath *string) string {
	var b strings.Builder
	b.WriteByte('(')
	writeOptStr(&b, host)
	b.WriteString(", ")
	if port == nil {
		b.WriteString("None")
	} else {
		b.WriteString(strconv.Itoa(*port))
	}
	fmt.Fprintf(&b, ", %d, ", db)
	writeOptStr(&b, socketPath)
	b.WriteByte(')')
	return b.String()
}

func writeOptStr(b *strings.Builder, s *string) {
	if s == nil {
		b.WriteString("None")
		return
	}
	b.WriteString(PyRepr(*s))
}

// PyRepr returns Python 3's repr() of the str s: single quotes unless s
// holds a single quote and no double quote; backslash, the quote, \t, \n and
// \r escaped; other non-printable code points as \xNN, \uNNNN or
// \UNNNNNNNN. Printable means Unicode categories L, M, N, P, S and the ASCII
// space, which is Python's str.isprintable. Invalid UTF-8 bytes are written
// as U+FFFD (a Python str cannot hold them).
func PyRepr(s string) string {
	quote := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		quote = '"'
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte(quote)
	for _, r := range s {
		switch {
		case r == '\\' || r == rune(quote):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x7f && r >= 0x20:
			b.WriteRune(r)
		case unicode.IsPrint(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x10000:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte(quote)
	return b.String()
}
