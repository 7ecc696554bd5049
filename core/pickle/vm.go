package pickle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// The unpickler: a stack machine over the opcodes of protocols 0 to 5 that
// builds this package's values directly. Every allocation it makes is
// charged to a budget of maxExpansion times the pickle's size (plus
// budgetFloor), so memory stays proportional to the stored value whatever
// its opcodes say: a run of MARKs, a memo index of 2^32, or shared
// references that would expand to billions of values are refused with an
// error wrapping ErrTooLarge.

// Bounds of Decode's memory: maxExpansion times the pickle's size, plus
// budgetFloor for small values. The machine charges what it asks for, so
// its own budget is set below the bound by the rounding of Go's size
// classes (at most 1/8) and the few small allocations it does not charge.
const (
	maxExpansion = 32
	budgetFloor  = 1 << 20
	chargedRatio = 28
	chargedFloor = 768 << 10
)

// ErrTooLarge is wrapped by the error Decode returns for a pickle that
// would take more than 32 times its own size (plus 1 MiB) in memory to
// decode, counting shared references once per place they appear.
var ErrTooLarge = errors.New("pickle: the pickle expands past 32 times its size")

// Sizes charged for what the machine allocates (Go's, rounded up).
const (
	slotSize  = 16 // an interface value
	boxSize   = 24 // a slice header in an interface
	wrapSize  = 32 // a list, dict or set under construction
	scalarBox = 16 // a string header, a *big.Int … in an interface
)

// Mutable containers are pointers while the pickle runs (APPEND, SETITEM
// and ADDITEMS change them in place, and the memo shares them); convert
// turns them into []any, Set and Dict.
type (
	// pySeq is a list, or with set a set.
	pySeq struct {
		items []any
		state visit
		set   bool
	}
	pyDict struct {
		items []Item
		state visit
	}
)

// visit is how far convert got with a container.
type visit uint8

const (
	unvisited visit = iota
	visiting
	visited
)

// hole fills memo slots below an index that was set, where Python's memo
// (a dict) has no entry.
type hole struct{}

type machine struct {
	data   []byte
	pos    int
	stack  []any
	marks  []int // stack heights at each MARK
	memo   []any
	left   int64 // bytes of budget still free
	shared bool  // a value was pushed again (GET, DUP): convert may meet it twice
}

func newMachine(data []byte) *machine {
	return &machine{data: data, left: chargedRatio*int64(len(data)) + chargedFloor}
}

func (m *machine) charge(n int) error {
	if m.left -= int64(n); m.left < 0 {
		return fmt.Errorf("%w (%d bytes)", ErrTooLarge, len(m.data))
	}
	return nil
}

// room returns s with room for n more elements of size bytes each,
// charging a larger backing array when it needs one.
func room[T any](m *machine, s []T, n, size int) ([]T, error) {
	if len(s)+n <= cap(s) {
		return s, nil
	}
	c := max(2*cap(s), len(s)+n, 4)
	if err := m.charge(c * size); err != nil {
		return nil, err
	}
	grown := make([]T, len(s), c)
	copy(grown, s)
	return grown, nil
}

func (m *machine) push(v any) error {
	s, err := room(m, m.stack, 1, slotSize)
	if err != nil {
		return err
	}
	m.stack = append(s, v)
	return nil
}

// floor is the stack height below which the current MARK's items end.
func (m *machine) floor() int {
	if len(m.marks) == 0 {
		return 0
	}
	return m.marks[len(m.marks)-1]
}

func (m *machine) pop() (any, error) {
	if len(m.stack) <= m.floor() {
		return nil, errors.New("pickle: malformed pickle: the stack is empty")
	}
	v := m.stack[len(m.stack)-1]
	m.stack[len(m.stack)-1] = nil
	m.stack = m.stack[:len(m.stack)-1]
	return v, nil
}

func (m *machine) top() (any, error) {
	if len(m.stack) <= m.floor() {
		return nil, errors.New("pickle: malformed pickle: the stack is empty")
	}
	return m.stack[len(m.stack)-1], nil
}

// popMark removes the last MARK and returns the items above it: a copy,
// charged to the budget, for a container to own; or, with view, the
// stack's own slots, valid until the next push (drop clears them).
func (m *machine) popMark(view bool) ([]any, error) {
	if len(m.marks) == 0 {
		return nil, errors.New("pickle: malformed pickle: no MARK")
	}
	at := m.marks[len(m.marks)-1]
	m.marks = m.marks[:len(m.marks)-1]
	items := m.stack[at:]
	m.stack = m.stack[:at]
	if view {
		return items, nil
	}
	if err := m.charge(len(items) * slotSize); err != nil {
		return nil, err
	}
	owned := make([]any, len(items))
	copy(owned, items)
	clear(items)
	return owned, nil
}

// take returns the next n bytes of the pickle.
func (m *machine) take(n int) ([]byte, error) {
	if n < 0 || n > len(m.data)-m.pos {
		return nil, errTruncated
	}
	b := m.data[m.pos : m.pos+n]
	m.pos += n
	return b, nil
}

// line returns the pickle's bytes up to the next newline (not included).
func (m *machine) line() ([]byte, error) {
	i := bytes.IndexByte(m.data[m.pos:], '\n')
	if i < 0 {
		return nil, errTruncated
	}
	b := m.data[m.pos : m.pos+i]
	m.pos += i + 1
	return b, nil
}

// length reads an opcode's length argument of size bytes (1, 4 or 8).
func (m *machine) length(size int) (int, error) {
	b, err := m.take(size)
	if err != nil {
		return 0, err
	}
	var n uint64
	switch size {
	case 1:
		n = uint64(b[0])
	case 4:
		n = uint64(binary.LittleEndian.Uint32(b))
	default:
		n = binary.LittleEndian.Uint64(b)
	}
	if n > uint64(len(m.data)) {
		return 0, errTruncated
	}
	return int(n), nil
}

func (m *machine) pushString(b []byte) error {
	if err := m.charge(len(b) + scalarBox); err != nil {
		return err
	}
	return m.push(string(b))
}

func (m *machine) pushBytes(b []byte) error {
	if err := m.charge(len(b) + boxSize); err != nil {
		return err
	}
	return m.push(bytes.Clone(b))
}

func (m *machine) pushInt(v int64) error {
	if v < 0 || v > 255 { // Go boxes 0..255 without allocating
		if err := m.charge(8); err != nil {
			return err
		}
	}
	return m.push(v)
}

// pushLong pushes a little-endian two's complement integer.
func (m *machine) pushLong(b []byte) error {
	if len(b) <= 8 {
		var u uint64
		for i := len(b) - 1; i >= 0; i-- {
			u = u<<8 | uint64(b[i])
		}
		if n := len(b); n > 0 && n < 8 && b[n-1]&0x80 != 0 {
			u |= ^uint64(0) << (8 * n) // sign-extend
		}
		return m.pushInt(int64(u))
	}
	if err := m.charge(2*len(b) + 64); err != nil {
		return err
	}
	be := make([]byte, len(b))
	for i, c := range b {
		be[len(b)-1-i] = c
	}
	n := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 { // negative: n - 2^(8*len)
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return m.push(n)
}

// pushDecimal pushes a protocol 0 integer ("I", "L"): an int64, else a
// *big.Int.
func (m *machine) pushDecimal(text []byte) error {
	s := string(text)
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return m.pushInt(v)
	}
	if err := m.charge(len(s) + 64); err != nil {
		return err
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return fmt.Errorf("pickle: malformed pickle: %q is not an integer", s)
	}
	return m.push(n)
}

// memoize stores the top of the stack at memo index i.
func (m *machine) memoize(i uint64) error {
	v, err := m.top()
	if err != nil {
		return err
	}
	if i >= uint64(len(m.memo)) {
		if i > uint64(len(m.data))*maxExpansion {
			return fmt.Errorf("%w (memo index %d)", ErrTooLarge, i)
		}
		n := int(i) + 1 - len(m.memo)
		s, err := room(m, m.memo, n, slotSize)
		if err != nil {
			return err
		}
		for range n {
			s = append(s, hole{})
		}
		m.memo = s
	}
	m.memo[i] = v
	return nil
}

func (m *machine) recall(i uint64) error {
	if i >= uint64(len(m.memo)) || m.memo[i] == (hole{}) {
		return fmt.Errorf("pickle: malformed pickle: memo %d was never set", i)
	}
	m.shared = true
	return m.push(m.memo[i])
}

// float pushes an 8-byte big-endian double.
func (m *machine) float(b []byte) error {
	if err := m.charge(8); err != nil {
		return err
	}
	return m.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
}
