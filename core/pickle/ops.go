package pickle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// run executes the pickle's opcodes up to STOP and returns the value it
// leaves (not yet converted: see convert).
func (m *machine) run() (any, error) {
	for m.pos < len(m.data) {
		op := m.data[m.pos]
		m.pos++
		if op == '.' { // STOP
			return m.pop()
		}
		if err := m.step(op); err != nil {
			return nil, err
		}
	}
	return nil, errTruncated
}

func (m *machine) step(op byte) error {
	switch op {
	case '(': // MARK
		s, err := room(m, m.marks, 1, 8)
		if err != nil {
			return err
		}
		m.marks = append(s, len(m.stack))
		return nil
	case 0x80: // PROTO
		b, err := m.take(1)
		if err == nil && b[0] > 5 {
			err = fmt.Errorf("pickle: pickle protocol %d is not supported (0 to 5 are)", b[0])
		}
		return err
	case 0x95: // FRAME: the whole pickle is at hand already
		_, err := m.take(8)
		return err
	case 'N':
		return m.push(nil)
	case 0x88, 0x89: // NEWTRUE, NEWFALSE
		return m.push(op == 0x88)
	case 'I', 'L': // INT, LONG (protocol 0): decimal text; "I01"/"I00" are True/False
		text, err := m.line()
		if err != nil {
			return err
		}
		switch string(text) {
		case "01":
			return m.push(true)
		case "00":
			return m.push(false)
		}
		if op == 'L' && len(text) > 0 && text[len(text)-1] == 'L' {
			text = text[:len(text)-1]
		}
		return m.pushDecimal(text)
	case 'J': // BININT
		b, err := m.take(4)
		if err != nil {
			return err
		}
		return m.pushInt(int64(int32(binary.LittleEndian.Uint32(b))))
	case 'K': // BININT1
		b, err := m.take(1)
		if err != nil {
			return err
		}
		return m.pushInt(int64(b[0]))
	case 'M': // BININT2
		b, err := m.take(2)
		if err != nil {
			return err
		}
		return m.pushInt(int64(binary.LittleEndian.Uint16(b)))
	case 0x8a, 0x8b: // LONG1, LONG4
		b, err := m.counted(argBytes(op))
		if err != nil {
			return err
		}
		return m.pushLong(b)
	case 'F': // FLOAT: text
		text, err := m.line()
		if err != nil {
			return err
		}
		f, err := strconv.ParseFloat(string(text), 64)
		if err != nil {
			return fmt.Errorf("pickle: malformed pickle: %w", err)
		}
		if err := m.charge(8); err != nil {
			return err
		}
		return m.push(f)
	case 'G': // BINFLOAT
		b, err := m.take(8)
		if err != nil {
			return err
		}
		return m.float(b)
	case 'S': // STRING (Python 2 str): a quoted literal
		text, err := m.line()
		if err != nil {
			return err
		}
		if len(text) < 2 || text[0] != text[len(text)-1] || text[0] != '\'' && text[0] != '"' {
			return errors.New("pickle: malformed pickle: the STRING argument is not quoted")
		}
		return m.pushString(text[1 : len(text)-1])
	case 'V': // UNICODE (protocol 0): raw-unicode-escape text, kept as it is written
		text, err := m.line()
		if err != nil {
			return err
		}
		return m.pushString(text)
	case 'T', 'U', 'X', 0x8c, 0x8d: // BINSTRING, SHORT_BINSTRING, BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
		b, err := m.counted(argBytes(op))
		if err != nil {
			return err
		}
		return m.pushString(b)
	case 'B', 'C', 0x8e, 0x96: // BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
		b, err := m.counted(argBytes(op))
		if err != nil {
			return err
		}
		return m.pushBytes(b)
	}
	return m.structure(op)
}

// argBytes is the size of an opcode's length or index argument.
func argBytes(op byte) int {
	switch op {
	case 'U', 'C', 0x8a, 0x8c, 'q', 'h':
		return 1
	case 0x8d, 0x8e, 0x96:
		return 8
	}
	return 4 // 'T', 'X', 'B', 0x8b, 'r', 'j'
}

// counted reads a length of size bytes and that many bytes.
func (m *machine) counted(size int) ([]byte, error) {
	n, err := m.length(size)
	if err != nil {
		return nil, err
	}
	return m.take(n)
}

// structure runs the opcodes that build containers, use the memo and the
// stack, and call classes.
func (m *machine) structure(op byte) error {
	switch op {
	case ']': // EMPTY_LIST
		return m.pushNew(&pySeq{})
	case '}': // EMPTY_DICT
		return m.pushNew(&pyDict{})
	case 0x8f: // EMPTY_SET
		return m.pushNew(&pySeq{set: true})
	case ')': // EMPTY_TUPLE
		return m.pushTuple(Tuple{})
	case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
		n := int(op-0x85) + 1
		if len(m.stack)-n < m.floor() {
			return errors.New("pickle: malformed pickle: the stack is empty")
		}
		if err := m.charge(n * slotSize); err != nil {
			return err
		}
		t := make(Tuple, n)
		copy(t, m.stack[len(m.stack)-n:])
		clear(m.stack[len(m.stack)-n:])
		m.stack = m.stack[:len(m.stack)-n]
		return m.pushTuple(t)
	case 't', 'l', 'd', 0x91: // TUPLE, LIST, DICT, FROZENSET: from the items since MARK
		items, err := m.popMark(false)
		if err != nil {
			return err
		}
		switch op {
		case 't':
			return m.pushTuple(Tuple(items))
		case 'l':
			return m.pushNew(&pySeq{items: items})
		case 0x91:
			return m.pushTuple(FrozenSet(items))
		}
		d := &pyDict{}
		if err := m.setItems(d, items); err != nil {
			return err
		}
		return m.pushNew(d)
	case 'a', 'e', 's', 'u', 0x90: // APPEND, APPENDS, SETITEM, SETITEMS, ADDITEMS
		return m.fill(op)
	case '0': // POP: an item, or the MARK when none is above it
		if len(m.stack) == m.floor() && len(m.marks) > 0 {
			_, err := m.popMark(true)
			return err
		}
		_, err := m.pop()
		return err
	case '1': // POP_MARK
		items, err := m.popMark(true)
		clear(items)
		return err
	case '2': // DUP
		v, err := m.top()
		if err != nil {
			return err
		}
		m.shared = true
		return m.push(v)
	case 'p', 'g': // PUT, GET: decimal text
		text, err := m.line()
		if err != nil {
			return err
		}
		i, err := strconv.ParseUint(string(text), 10, 64)
		if err != nil {
			return fmt.Errorf("pickle: malformed pickle: memo index %q", text)
		}
		if op == 'p' {
			return m.memoize(i)
		}
		return m.recall(i)
	case 'q', 'r', 'h', 'j': // BINPUT, LONG_BINPUT, BINGET, LONG_BINGET
		size := argBytes(op)
		b, err := m.take(size)
		if err != nil {
			return err
		}
		i := uint64(b[0])
		if size == 4 {
			i = uint64(binary.LittleEndian.Uint32(b))
		}
		if op == 'q' || op == 'r' {
			return m.memoize(i)
		}
		return m.recall(i)
	case 0x94: // MEMOIZE
		return m.memoize(uint64(len(m.memo)))
	}
	return m.objects(op)
}

func (m *machine) pushNew(v any) error {
	if err := m.charge(wrapSize); err != nil {
		return err
	}
	return m.push(v)
}

func (m *machine) pushTuple(v any) error {
	if err := m.charge(boxSize); err != nil {
		return err
	}
	return m.push(v)
}

// fill runs APPEND, APPENDS, SETITEM, SETITEMS and ADDITEMS on the
// container below their items.
func (m *machine) fill(op byte) error {
	var items []any
	var pair [2]any
	var err error
	switch op {
	case 'a', 's':
		n := 1
		if op == 's' {
			n = 2
		}
		if len(m.stack)-n <= m.floor() {
			return errors.New("pickle: malformed pickle: the stack is empty")
		}
		items = pair[:n]
		copy(items, m.stack[len(m.stack)-n:])
		clear(m.stack[len(m.stack)-n:])
		m.stack = m.stack[:len(m.stack)-n]
	default:
		if items, err = m.popMark(true); err != nil {
			return err
		}
	}
	defer clear(items) // the stack's slots: drop the references
	target, err := m.top()
	if err != nil {
		return err
	}
	switch c := target.(type) {
	case *pySeq:
		if c.set && op == 0x90 || !c.set && (op == 'a' || op == 'e') {
			if c.items, err = room(m, c.items, len(items), slotSize); err == nil {
				c.items = append(c.items, items...)
			}
			return err
		}
	case *pyDict:
		if op == 's' || op == 'u' {
			return m.setItems(c, items)
		}
	}
	return fmt.Errorf("pickle: malformed pickle: opcode %q on a %s", op, pythonTypeOf(target))
}

func (m *machine) setItems(d *pyDict, kv []any) error {
	if len(kv)%2 != 0 {
		return errors.New("pickle: malformed pickle: a dict item without a value")
	}
	var err error
	if d.items, err = room(m, d.items, len(kv)/2, 2*slotSize); err != nil {
		return err
	}
	for i := 0; i < len(kv); i += 2 {
		d.items = append(d.items, Item{Key: kv[i], Value: kv[i+1]})
	}
	return nil
}
