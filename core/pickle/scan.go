package pickle

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// argSize is how an opcode's argument is laid out in the stream.
type argSize int8

const (
	argNone  argSize = 0
	argLine  argSize = -1 // up to a newline
	argLines argSize = -2 // two newline-terminated lines
	argLen1  argSize = -3 // 1-byte length, then that many bytes
	argLen4  argSize = -4 // 4-byte little-endian length, then that many bytes
	argLen8  argSize = -8 // 8-byte little-endian length, then that many bytes
)

// opArgs gives the argument layout of every opcode of protocols 0 to 5
// (Python's pickletools); a positive value is a fixed size.
var opArgs = func() map[byte]argSize {
	m := map[byte]argSize{}
	for _, op := range []byte("(.0123NPQRabdeloRstu}])\x81\x85\x86\x87\x88\x89\x8f\x90\x91\x92\x93\x94\x97\x98") {
		m[op] = argNone
	}
	for op, a := range map[byte]argSize{
		'I': argLine, 'L': argLine, 'F': argLine, 'S': argLine, 'V': argLine, 'g': argLine, 'p': argLine, 'P': argLine,
		'c': argLines, 'i': argLines,
		'J': 4, 'K': 1, 'M': 2, 'G': 8, 'h': 1, 'j': 4, 'q': 1, 'r': 4, 0x82: 1, 0x83: 2, 0x84: 4, 0x80: 1, 0x95: 8,
		0x8a: argLen1, 0x8b: argLen4, 'T': argLen4, 'U': argLen1, 'X': argLen4, 0x8c: argLen1, 0x8d: argLen8,
		'B': argLen4, 'C': argLen1, 0x8e: argLen8, 0x96: argLen8,
	} {
		m[op] = a
	}
	return m
}()

// scan walks the opcodes of a pickle without building anything and checks
// that every length it declares fits in data, so that a hostile value
// cannot make the unpickler allocate more than the value's own size.
func scan(data []byte) error {
	for i := 0; i < len(data); {
		op := data[i]
		i++
		if op == '.' {
			return nil
		}
		a, ok := opArgs[op]
		if !ok {
			return fmt.Errorf("pickle: not a pickle: unknown opcode 0x%02x at byte %d", op, i-1)
		}
		rest := data[i:]
		var n uint64
		switch a {
		case argNone:
		case argLine, argLines:
			lines := int(-a)
			for ; lines > 0; lines-- {
				nl := bytes.IndexByte(data[i:], '\n')
				if nl < 0 {
					return errTruncated
				}
				i += nl + 1
			}
			continue
		case argLen1:
			if len(rest) < 1 {
				return errTruncated
			}
			n, i = uint64(rest[0]), i+1
		case argLen4:
			if len(rest) < 4 {
				return errTruncated
			}
			n, i = uint64(binary.LittleEndian.Uint32(rest)), i+4
		case argLen8:
			if len(rest) < 8 {
				return errTruncated
			}
			n, i = binary.LittleEndian.Uint64(rest), i+8
		default:
			if op == 0x95 { // FRAME: its size covers the opcodes that follow
				if len(rest) < 8 {
					return errTruncated
				}
				if binary.LittleEndian.Uint64(rest) > uint64(len(rest)-8) {
					return errTruncated
				}
			}
			n = uint64(a)
		}
		if n > uint64(len(data)-i) {
			return errTruncated
		}
		i += int(n)
	}
	return errTruncated
}

var errTruncated = fmt.Errorf("pickle: not a pickle, or truncated: a length runs past the end of the value")
