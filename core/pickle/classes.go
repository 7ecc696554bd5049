package pickle

import (
	"fmt"
	"math/big"
	"time"
)

// The Python constructors Decode knows, as the unpickler calls them.

// uuidState is a uuid.UUID being rebuilt: NEWOBJ, then BUILD with {'int': n}.
type uuidState struct{ n *big.Int }

func (u *uuidState) PySetState(state any) error {
	d, ok := state.(*pyDict)
	if !ok {
		return &UnsupportedTypeError{PythonType: "uuid.UUID", Reason: "unexpected state"}
	}
	v, ok := Dict(d.items).Get("int")
	if !ok {
		return &UnsupportedTypeError{PythonType: "uuid.UUID", Reason: "state without 'int'"}
	}
	n, err := bigOf(v)
	if err != nil || n.Sign() < 0 || n.BitLen() > 128 {
		return &UnsupportedTypeError{PythonType: "uuid.UUID", Reason: "int out of range"}
	}
	u.n = n
	return nil
}

// uuidClass is uuid.UUID: Python pickles it with NEWOBJ and BUILD; Encode
// with REDUCE on the hex string.
type uuidClass struct{}

func (uuidClass) PyNew(...any) (any, error) { return &uuidState{}, nil }

func (uuidClass) Call(args ...any) (any, error) {
	if len(args) == 1 {
		if s, ok := args[0].(string); ok {
			if u, err := ParseUUID(s); err == nil {
				return u, nil
			}
		}
	}
	return nil, &UnsupportedTypeError{PythonType: "uuid.UUID", Reason: "unexpected constructor arguments"}
}

// safeUUID stands for uuid.SafeUUID, which a UUID's state may carry.
type safeUUID struct{}

func bigOf(v any) (*big.Int, error) {
	switch n := v.(type) {
	case int64:
		return big.NewInt(n), nil
	case *big.Int:
		return n, nil
	}
	return nil, fmt.Errorf("not an int: %T", v)
}

func collect(args []any, typ string, make func([]any) any) (any, error) {
	if len(args) == 0 {
		return make([]any{}), nil
	}
	if len(args) == 1 {
		if l, ok := args[0].(*pySeq); ok && !l.set {
			if l.items == nil {
				return make([]any{}), nil
			}
			return make(l.items), nil
		}
	}
	return nil, &UnsupportedTypeError{PythonType: "builtins." + typ, Reason: "unexpected constructor arguments"}
}

func bytesOf(args ...any) (any, error) {
	switch len(args) {
	case 0:
		return []byte{}, nil
	case 1:
		if b, ok := args[0].([]byte); ok {
			return b, nil
		}
	case 2:
		if s, ok := args[0].(string); ok {
			return latin1(s, args[1])
		}
	}
	return nil, &UnsupportedTypeError{PythonType: "builtins.bytes", Reason: "unexpected constructor arguments"}
}

// latin1 is _codecs.encode(text, 'latin1'), how protocol 2 spells bytes.
func latin1(args ...any) (any, error) {
	if len(args) == 2 {
		s, ok1 := args[0].(string)
		enc, ok2 := args[1].(string)
		if ok1 && ok2 && (enc == "latin1" || enc == "latin-1") {
			out := make([]byte, 0, len(s))
			for _, r := range s {
				if r > 0xff {
					return nil, &UnsupportedTypeError{PythonType: "_codecs.encode", Reason: "text outside latin-1"}
				}
				out = append(out, byte(r))
			}
			return out, nil
		}
	}
	return nil, &UnsupportedTypeError{PythonType: "_codecs.encode", Reason: "only latin-1 bytes are supported"}
}

func complexOf(args ...any) (any, error) {
	if len(args) == 2 {
		re, ok1 := args[0].(float64)
		im, ok2 := args[1].(float64)
		if ok1 && ok2 {
			return complex(re, im), nil
		}
	}
	return nil, &UnsupportedTypeError{PythonType: "builtins.complex", Reason: "unexpected constructor arguments"}
}

func stateBytes(typ string, args []any, n int) ([]byte, error) {
	if len(args) >= 1 {
		if b, ok := args[0].([]byte); ok && len(b) == n {
			return b, nil
		}
	}
	return nil, &UnsupportedTypeError{PythonType: typ, Reason: "unexpected pickled state"}
}

func datetimeOf(args ...any) (any, error) {
	b, err := stateBytes("datetime.datetime", args, 10)
	if err != nil {
		return nil, err
	}
	loc := Naive
	if len(args) == 2 {
		l, ok := args[1].(*time.Location)
		if !ok {
			return nil, &UnsupportedTypeError{PythonType: "datetime.datetime", Reason: "tzinfo is not a datetime.timezone"}
		}
		loc = l
	} else if len(args) > 2 {
		return nil, &UnsupportedTypeError{PythonType: "datetime.datetime", Reason: "unexpected constructor arguments"}
	}
	us := int(b[7])<<16 | int(b[8])<<8 | int(b[9])
	return time.Date(int(b[0])<<8|int(b[1]), time.Month(b[2]&0x7f), int(b[3]), int(b[4]), int(b[5]), int(b[6]), us*1000, loc), nil
}

func dateOf(args ...any) (any, error) {
	b, err := stateBytes("datetime.date", args, 4)
	if err != nil || len(args) != 1 {
		return nil, &UnsupportedTypeError{PythonType: "datetime.date", Reason: "unexpected pickled state"}
	}
	return Date{Year: int(b[0])<<8 | int(b[1]), Month: time.Month(b[2]), Day: int(b[3])}, nil
}

func timeOf(args ...any) (any, error) {
	b, err := stateBytes("datetime.time", args, 6)
	if err != nil {
		return nil, err
	}
	if len(args) != 1 {
		return nil, &UnsupportedTypeError{PythonType: "datetime.time", Reason: "a time with tzinfo has no Go counterpart"}
	}
	return TimeOfDay{Hour: int(b[0] & 0x7f), Minute: int(b[1]), Second: int(b[2]), Microsecond: int(b[3])<<16 | int(b[4])<<8 | int(b[5])}, nil
}

func timedeltaOf(args ...any) (any, error) {
	if len(args) == 3 {
		d, ok1 := args[0].(int64)
		s, ok2 := args[1].(int64)
		us, ok3 := args[2].(int64)
		if ok1 && ok2 && ok3 && s >= -(1<<40) && s <= 1<<40 && us >= -(1<<40) && us <= 1<<40 {
			total := new(big.Int).Mul(big.NewInt(d), big.NewInt(86400e9))
			total.Add(total, big.NewInt(s*1e9+us*1e3))
			if !total.IsInt64() {
				return nil, &UnsupportedTypeError{PythonType: "datetime.timedelta", Reason: "longer than a time.Duration holds (about 292 years)"}
			}
			return time.Duration(total.Int64()), nil
		}
	}
	return nil, &UnsupportedTypeError{PythonType: "datetime.timedelta", Reason: "unexpected constructor arguments"}
}

func timezoneOf(args ...any) (any, error) {
	if len(args) >= 1 && len(args) <= 2 {
		off, ok := args[0].(time.Duration)
		name := ""
		if len(args) == 2 {
			name, _ = args[1].(string)
		}
		if ok && off%time.Second == 0 {
			if off == 0 && name == "" {
				return time.UTC, nil
			}
			return time.FixedZone(name, int(off/time.Second)), nil
		}
	}
	return nil, &UnsupportedTypeError{PythonType: "datetime.timezone", Reason: "unexpected constructor arguments"}
}

func decimalOf(args ...any) (any, error) {
	if len(args) == 1 {
		if s, ok := args[0].(string); ok {
			return Decimal(s), nil
		}
	}
	return nil, &UnsupportedTypeError{PythonType: "decimal.Decimal", Reason: "unexpected constructor arguments"}
}

// orderedDictOf is collections.OrderedDict: empty (its items follow with
// SETITEMS), or from a list of pairs; it decodes as a Dict.
func orderedDictOf(args ...any) (any, error) {
	d := &pyDict{}
	if len(args) == 0 {
		return d, nil
	}
	if l, ok := args[0].(*pySeq); ok && !l.set && len(args) == 1 {
		for _, e := range l.items {
			pair, ok := e.(Tuple)
			if !ok || len(pair) != 2 {
				return nil, &UnsupportedTypeError{PythonType: "collections.OrderedDict", Reason: "items are not pairs"}
			}
			d.items = append(d.items, Item{Key: pair[0], Value: pair[1]})
		}
		return d, nil
	}
	return nil, &UnsupportedTypeError{PythonType: "collections.OrderedDict", Reason: "unexpected constructor arguments"}
}

// objectClass is builtins.object, the base copy_reg._reconstructor names.
type objectClass struct{}

// reconstruct is copy_reg._reconstructor(cls, base, state), how protocols 0
// and 1 rebuild an instance: cls.__new__ with the state as argument (none
// for an object base).
func reconstruct(args ...any) (any, error) {
	if len(args) == 3 {
		if cls, ok := args[0].(newer); ok {
			if args[2] == nil {
				return cls.PyNew()
			}
			return cls.PyNew(args[2])
		}
	}
	if len(args) > 0 {
		if f, ok := args[0].(*foreign); ok {
			return nil, &UnsupportedTypeError{PythonType: f.name}
		}
	}
	return nil, &UnsupportedTypeError{PythonType: "copy_reg._reconstructor", Reason: "unexpected arguments"}
}

// build is BUILD: inst.__setstate__(state). Only a UUID takes a state; an
// empty one is accepted on anything (a str subclass pickles an empty
// __dict__).
func build(inst, state any) error {
	if s, ok := inst.(interface{ PySetState(any) error }); ok {
		return s.PySetState(state)
	}
	if emptyState(state) {
		return nil
	}
	return &UnsupportedTypeError{PythonType: pythonTypeOf(inst), Reason: "an instance with pickled state"}
}

func emptyState(state any) bool {
	switch s := state.(type) {
	case nil:
		return true
	case *pyDict:
		return len(s.items) == 0
	case Tuple:
		return len(s) == 2 && emptyState(s[0]) && emptyState(s[1])
	}
	return false
}
