package pickle

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sort"
	"time"
)

// Pickle opcodes used by Encode (protocol 4).
const (
	opProto      = 0x80
	opStop       = '.'
	opNone       = 'N'
	opTrue       = 0x88
	opFalse      = 0x89
	opBinInt     = 'J'
	opBinInt1    = 'K'
	opBinInt2    = 'M'
	opLong1      = 0x8a
	opLong4      = 0x8b
	opBinFloat   = 'G'
	opShortUni   = 0x8c
	opBinUni     = 'X'
	opBinUni8    = 0x8d
	opShortBytes = 'C'
	opBinBytes   = 'B'
	opBinBytes8  = 0x8e
	opEmptyList  = ']'
	opAppends    = 'e'
	opEmptyTuple = ')'
	opTuple1     = 0x85
	opTuple2     = 0x86
	opTuple3     = 0x87
	opTuple      = 't'
	opMark       = '('
	opEmptyDict  = '}'
	opSetItems   = 'u'
	opEmptySet   = 0x8f
	opAddItems   = 0x90
	opFrozenSet  = 0x91
	opStackGlob  = 0x93
	opReduce     = 'R'
)

// Encode writes v as a protocol-4 pickle that Python's pickle.loads reads
// back to the natural Python type (see the package documentation). A Go
// type without a Python counterpart (a struct, a channel, a func) is an
// *UnsupportedTypeError.
func Encode(v any) ([]byte, error) {
	e := encoder{buf: make([]byte, 0, 64)}
	e.buf = append(e.buf, opProto, 4)
	if err := e.value(v, 0); err != nil {
		return nil, err
	}
	return append(e.buf, opStop), nil
}

type encoder struct{ buf []byte }

const maxDepth = 1000 // Python's own recursion limit refuses deeper values

func (e *encoder) value(v any, depth int) error {
	if depth > maxDepth {
		return &UnsupportedTypeError{GoType: fmt.Sprintf("%T", v), Reason: "nested more than 1000 levels deep"}
	}
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, opNone)
	case bool:
		if x {
			e.buf = append(e.buf, opTrue)
		} else {
			e.buf = append(e.buf, opFalse)
		}
	case time.Duration:
		e.timedelta(x)
	case int:
		e.int(int64(x))
	case int8:
		e.int(int64(x))
	case int16:
		e.int(int64(x))
	case int32:
		e.int(int64(x))
	case int64:
		e.int(x)
	case uint8:
		e.int(int64(x))
	case uint16:
		e.int(int64(x))
	case uint32:
		e.int(int64(x))
	case uint:
		e.bigInt(new(big.Int).SetUint64(uint64(x)))
	case uint64:
		e.bigInt(new(big.Int).SetUint64(x))
	case *big.Int:
		e.bigInt(x)
	case float64:
		e.float(x)
	case float32:
		e.float(float64(x))
	case complex128:
		e.global("builtins", "complex")
		e.float(real(x))
		e.float(imag(x))
		e.buf = append(e.buf, opTuple2, opReduce)
	case string:
		e.str(x)
	case []byte:
		e.bytes(x)
	case Decimal:
		e.global("decimal", "Decimal")
		e.str(string(x))
		e.buf = append(e.buf, opTuple1, opReduce)
	case UUID:
		e.global("uuid", "UUID")
		e.str(x.String())
		e.buf = append(e.buf, opTuple1, opReduce)
	case time.Time:
		e.datetime(x)
	case Date:
		e.global("datetime", "date")
		e.bytes([]byte{byte(x.Year >> 8), byte(x.Year), byte(x.Month), byte(x.Day)})
		e.buf = append(e.buf, opTuple1, opReduce)
	case TimeOfDay:
		e.global("datetime", "time")
		us := x.Microsecond
		e.bytes([]byte{byte(x.Hour), byte(x.Minute), byte(x.Second), byte(us >> 16), byte(us >> 8), byte(us)})
		e.buf = append(e.buf, opTuple1, opReduce)
	case Tuple:
		return e.tuple(x, depth)
	case Set:
		e.buf = append(e.buf, opEmptySet, opMark)
		if err := e.all(x, depth); err != nil {
			return err
		}
		e.buf = append(e.buf, opAddItems)
	case FrozenSet:
		e.buf = append(e.buf, opMark)
		if err := e.all(x, depth); err != nil {
			return err
		}
		e.buf = append(e.buf, opFrozenSet)
	case Dict:
		e.buf = append(e.buf, opEmptyDict, opMark)
		for _, it := range x {
			if err := e.value(it.Key, depth+1); err != nil {
				return err
			}
			if err := e.value(it.Value, depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, opSetItems)
	case []any:
		e.buf = append(e.buf, opEmptyList, opMark)
		if err := e.all(x, depth); err != nil {
			return err
		}
		e.buf = append(e.buf, opAppends)
	default:
		return e.reflected(v, depth)
	}
	return nil
}

// reflected handles slices, arrays and maps of any element type.
func (e *encoder) reflected(v any, depth int) error {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		items := make([]any, rv.Len())
		for i := range items {
			items[i] = rv.Index(i).Interface()
		}
		return e.value(items, depth+1)
	case reflect.Map:
		d := make(Dict, 0, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			d = append(d, Item{Key: iter.Key().Interface(), Value: iter.Value().Interface()})
		}
		sort.Slice(d, func(i, j int) bool { return fmt.Sprint(d[i].Key) < fmt.Sprint(d[j].Key) })
		return e.value(d, depth+1)
	case reflect.Pointer:
		if rv.IsNil() {
			e.buf = append(e.buf, opNone)
			return nil
		}
		return e.value(rv.Elem().Interface(), depth+1)
	}
	return &UnsupportedTypeError{GoType: fmt.Sprintf("%T", v)}
}

func (e *encoder) all(items []any, depth int) error {
	for _, it := range items {
		if err := e.value(it, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (e *encoder) tuple(t Tuple, depth int) error {
	if len(t) == 0 {
		e.buf = append(e.buf, opEmptyTuple)
		return nil
	}
	if len(t) > 3 {
		e.buf = append(e.buf, opMark)
	}
	if err := e.all(t, depth); err != nil {
		return err
	}
	switch len(t) {
	case 1:
		e.buf = append(e.buf, opTuple1)
	case 2:
		e.buf = append(e.buf, opTuple2)
	case 3:
		e.buf = append(e.buf, opTuple3)
	default:
		e.buf = append(e.buf, opTuple)
	}
	return nil
}

func (e *encoder) int(n int64) {
	switch {
	case n >= 0 && n < 1<<8:
		e.buf = append(e.buf, opBinInt1, byte(n))
	case n >= 0 && n < 1<<16:
		e.buf = append(e.buf, opBinInt2, byte(n), byte(n>>8))
	case n >= math.MinInt32 && n <= math.MaxInt32:
		e.buf = binary.LittleEndian.AppendUint32(append(e.buf, opBinInt), uint32(int32(n)))
	default:
		e.bigInt(big.NewInt(n))
	}
}

// bigInt writes LONG1/LONG4: two's complement, little-endian, minimal length.
func (e *encoder) bigInt(n *big.Int) {
	if n.IsInt64() && n.Int64() >= math.MinInt32 && n.Int64() <= math.MaxInt32 {
		e.int(n.Int64())
		return
	}
	size := n.BitLen()/8 + 1 // room for the sign bit
	tc := new(big.Int).Set(n)
	if n.Sign() < 0 {
		tc.Add(tc, new(big.Int).Lsh(big.NewInt(1), uint(size*8)))
	}
	be := tc.FillBytes(make([]byte, size))
	// trim a redundant leading byte (0x00 before a clear top bit, 0xff before a set one)
	for len(be) > 1 && ((be[0] == 0 && be[1]&0x80 == 0) || (be[0] == 0xff && be[1]&0x80 != 0)) {
		be = be[1:]
	}
	if len(be) < 256 {
		e.buf = append(e.buf, opLong1, byte(len(be)))
	} else {
		e.buf = binary.LittleEndian.AppendUint32(append(e.buf, opLong4), uint32(len(be)))
	}
	for i := len(be) - 1; i >= 0; i-- {
		e.buf = append(e.buf, be[i])
	}
}

func (e *encoder) float(f float64) {
	e.buf = binary.BigEndian.AppendUint64(append(e.buf, opBinFloat), math.Float64bits(f))
}

func (e *encoder) str(s string) {
	switch n := len(s); {
	case n < 256:
		e.buf = append(e.buf, opShortUni, byte(n))
	case n <= math.MaxUint32:
		e.buf = binary.LittleEndian.AppendUint32(append(e.buf, opBinUni), uint32(n))
	default:
		e.buf = binary.LittleEndian.AppendUint64(append(e.buf, opBinUni8), uint64(n))
	}
	e.buf = append(e.buf, s...)
}

func (e *encoder) bytes(b []byte) {
	switch n := len(b); {
	case n < 256:
		e.buf = append(e.buf, opShortBytes, byte(n))
	case n <= math.MaxUint32:
		e.buf = binary.LittleEndian.AppendUint32(append(e.buf, opBinBytes), uint32(n))
	default:
		e.buf = binary.LittleEndian.AppendUint64(append(e.buf, opBinBytes8), uint64(n))
	}
	e.buf = append(e.buf, b...)
}

func (e *encoder) global(module, name string) {
	e.str(module)
	e.str(name)
	e.buf = append(e.buf, opStackGlob)
}

func (e *encoder) datetime(t time.Time) {
	e.global("datetime", "datetime")
	us := t.Nanosecond() / 1000
	y := t.Year()
	e.bytes([]byte{byte(y >> 8), byte(y), byte(t.Month()), byte(t.Day()), byte(t.Hour()), byte(t.Minute()), byte(t.Second()),
		byte(us >> 16), byte(us >> 8), byte(us)})
	if t.Location() == Naive {
		e.buf = append(e.buf, opTuple1, opReduce)
		return
	}
	_, off := t.Zone()
	e.global("datetime", "timezone")
	e.timedelta(time.Duration(off) * time.Second)
	e.buf = append(e.buf, opTuple1, opReduce, opTuple2, opReduce)
}

// timedelta writes datetime.timedelta(days, seconds, microseconds),
// normalised as Python keeps it (0 <= seconds < 86400, 0 <= us < 1e6).
func (e *encoder) timedelta(d time.Duration) {
	us := d.Microseconds()
	days := us / 86400e6
	rem := us % 86400e6
	if rem < 0 {
		rem += 86400e6
		days--
	}
	e.global("datetime", "timedelta")
	e.int(days)
	e.int(rem / 1e6)
	e.int(rem % 1e6)
	e.buf = append(e.buf, opTuple3, opReduce)
}
