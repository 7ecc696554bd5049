// Package pickle moves Python values between a Django site and Go: it reads
// the pickles Django's cache backends store into plain Go values, and writes
// Go values as pickles that Python's pickle.loads turns back into the
// natural Python types.
//
// # Python to Go
//
// Decode maps each Python type to one Go type:
//
//	None                      nil
//	bool                      bool
//	int                       int64, or *big.Int when it does not fit
//	float                     float64
//	complex                   complex128
//	str (and Django's SafeString) string
//	bytes, bytearray          []byte
//	list                      []any
//	tuple                     Tuple
//	dict, OrderedDict         Dict (keys and values in insertion order)
//	set                       Set
//	frozenset                 FrozenSet
//	datetime.datetime         time.Time (a naive datetime is in the Naive location)
//	datetime.date             Date
//	datetime.time             TimeOfDay
//	datetime.timedelta        time.Duration
//	decimal.Decimal           Decimal
//	uuid.UUID                 UUID
//
// Any other class in a pickle (an enum, a model instance, a zoneinfo zone)
// makes Decode fail with an *UnsupportedTypeError that names the Python
// type. Decode never panics on any input, and its memory stays within 32
// times the pickle's size plus 1 MiB (ErrTooLarge beyond).
//
// # Go to Python
//
// Encode writes a pickle (protocol 4, which every Python 3.4+ reads) for the
// Go types above, plus the other Go integer and float types, slices of any
// element type ([]T becomes a list) and maps (a dict with keys in sorted
// order). A time.Time outside the Naive location becomes an aware datetime
// with a fixed-offset timezone.
//
// Into converts a decoded value into a typed Go variable (a string, an int,
// a map, a slice, a struct, a time.Time …) and reports a *MismatchError
// naming both types when it cannot.
package pickle

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"time"
)

// Tuple is a Python tuple.
type Tuple []any

// Set is a Python set. Its elements are in no particular order.
type Set []any

// FrozenSet is a Python frozenset. Its elements are in no particular order.
type FrozenSet []any

// Item is one key/value pair of a Dict.
type Item struct {
	Key   any
	Value any
}

// Dict is a Python dict: its items in insertion order. Keys can be any
// decoded value (strings, ints, tuples …), which a Go map cannot always hold.
type Dict []Item

// Get returns the value stored under key, compared with ==, and whether it
// is present. Keys that are not comparable in Go (tuples, big ints) never
// match.
func (d Dict) Get(key any) (any, bool) {
	for _, it := range d {
		if comparableEqual(it.Key, key) {
			return it.Value, true
		}
	}
	return nil, false
}

// StringMap returns the dict as a Go map when every key is a string;
// ok is false otherwise.
func (d Dict) StringMap() (m map[string]any, ok bool) {
	m = make(map[string]any, len(d))
	for _, it := range d {
		k, isStr := it.Key.(string)
		if !isStr {
			return nil, false
		}
		m[k] = it.Value
	}
	return m, true
}

func comparableEqual(a, b any) (eq bool) {
	defer func() {
		if recover() != nil {
			eq = false
		}
	}()
	return a == b
}

// Date is a Python datetime.date.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// String formats the date as Python's date.isoformat does: "2024-02-29".
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// TimeOfDay is a Python datetime.time without a timezone.
type TimeOfDay struct {
	Hour, Minute, Second, Microsecond int
}

// String formats the time as Python's time.isoformat does: "13:45:30" or
// "13:45:30.000123".
func (t TimeOfDay) String() string {
	s := fmt.Sprintf("%02d:%02d:%02d", t.Hour, t.Minute, t.Second)
	if t.Microsecond != 0 {
		s += fmt.Sprintf(".%06d", t.Microsecond)
	}
	return s
}

// Decimal is a Python decimal.Decimal, kept exactly as its str() text
// ("3.14", "-0", "1E+3", "NaN", "Infinity") so that no digit is lost.
type Decimal string

// UUID is a Python uuid.UUID: 16 bytes, most significant first.
type UUID [16]byte

// String formats the UUID as Python's str(uuid) does:
// "12345678-1234-5678-1234-567812345678".
func (u UUID) String() string {
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ParseUUID reads the 32 hex digits of s, with or without the four dashes.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	clean := make([]byte, 0, 32)
	for i := 0; i < len(s); i++ {
		if s[i] != '-' {
			clean = append(clean, s[i])
		}
	}
	if len(clean) != 32 {
		return u, fmt.Errorf("pickle: %q is not a UUID (32 hex digits)", s)
	}
	if _, err := hex.Decode(u[:], clean); err != nil {
		return u, fmt.Errorf("pickle: %q is not a UUID: %w", s, err)
	}
	return u, nil
}

// Naive is the location of a time.Time that stands for a naive Python
// datetime (one without tzinfo). Its clock reads like UTC; Encode writes a
// time in this location back as a naive datetime.
var Naive = time.FixedZone("naive", 0)

// UnsupportedTypeError reports a Python type that has no Go counterpart
// here (Decode), or a Go type that has no Python counterpart (Encode).
type UnsupportedTypeError struct {
	// PythonType is the Python type, "module.Name" ("http.HTTPStatus"), for
	// a decode; "" for an encode.
	PythonType string
	// GoType is the Go type for an encode; "" for a decode.
	GoType string
	// Reason says more when the type itself is known but this value is not
	// ("a time with tzinfo"); may be "".
	Reason string
}

// Error names the type that could not be mapped.
func (e *UnsupportedTypeError) Error() string {
	var s string
	if e.PythonType != "" {
		s = "pickle: cannot decode Python type " + e.PythonType + " into a Go value"
	} else {
		s = "pickle: cannot encode Go type " + e.GoType + " as a Python value"
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// PythonType returns the Python type name of a decoded value: "int",
// "str", "dict", "datetime.datetime" …, or the Go type for anything else.
func PythonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int64, int, *big.Int:
		return "int"
	case float64:
		return "float"
	case complex128:
		return "complex"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case []any:
		return "list"
	case Tuple:
		return "tuple"
	case Dict:
		return "dict"
	case Set:
		return "set"
	case FrozenSet:
		return "frozenset"
	case time.Time:
		return "datetime.datetime"
	case Date:
		return "datetime.date"
	case TimeOfDay:
		return "datetime.time"
	case time.Duration:
		return "datetime.timedelta"
	case Decimal:
		return "decimal.Decimal"
	case UUID:
		return "uuid.UUID"
	default:
		return fmt.Sprintf("Go %T", x)
	}
}
