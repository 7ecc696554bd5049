package pyvalue

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"time"

	gopickle "github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// Decode reads one pickle (any protocol, 0 to 5) into the Go values listed
// in the package documentation. A class without a Go counterpart is an
// *UnsupportedTypeError naming it; a malformed pickle is an error. Decode
// never panics.
func Decode(data []byte) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("pyvalue: malformed or unsupported pickle: %v", r)
		}
	}()
	if err := scan(data); err != nil {
		return nil, err
	}
	u := gopickle.NewUnpickler(bytes.NewReader(data))
	u.FindClass = findClass
	raw, err := u.Load()
	if err != nil {
		var ute *UnsupportedTypeError
		if errors.As(err, &ute) {
			return nil, ute
		}
		return nil, fmt.Errorf("pyvalue: cannot read pickle: %w", err)
	}
	cv := converter{left: max(1<<20, 64*len(data))}
	return cv.convert(raw, 0)
}

// callFunc is a Python callable the unpickler calls with REDUCE.
type callFunc func(args ...any) (any, error)

func (f callFunc) Call(args ...any) (any, error) { return f(args...) }

// newClass is a Python class the unpickler instantiates with NEWOBJ.
type newClass func(args ...any) (any, error)

func (f newClass) PyNew(args ...any) (any, error) { return f(args...) }

func findClass(module, name string) (any, error) {
	switch module + "." + name {
	case "builtins.set", "__builtin__.set":
		return callFunc(func(args ...any) (any, error) { return collect(args, "set", func(e []any) any { return Set(e) }) }), nil
	case "builtins.frozenset", "__builtin__.frozenset":
		return callFunc(func(args ...any) (any, error) {
			return collect(args, "frozenset", func(e []any) any { return FrozenSet(e) })
		}), nil
	case "builtins.bytes", "__builtin__.bytes", "builtins.bytearray", "__builtin__.bytearray":
		return callFunc(bytesOf), nil
	case "_codecs.encode":
		return callFunc(latin1), nil
	case "builtins.complex", "__builtin__.complex":
		return callFunc(complexOf), nil
	case "datetime.datetime":
		return callFunc(datetimeOf), nil
	case "datetime.date":
		return callFunc(dateOf), nil
	case "datetime.time":
		return callFunc(timeOf), nil
	case "datetime.timedelta":
		return callFunc(timedeltaOf), nil
	case "datetime.timezone":
		return callFunc(timezoneOf), nil
	case "decimal.Decimal":
		return callFunc(decimalOf), nil
	case "uuid.UUID":
		return uuidClass{}, nil
	case "uuid.SafeUUID":
		return callFunc(func(...any) (any, error) { return safeUUID{}, nil }), nil
	case "django.utils.safestring.SafeString", "django.utils.safestring.SafeText":
		return newClass(func(args ...any) (any, error) {
			if len(args) == 1 {
				if s, ok := args[0].(string); ok {
					return s, nil
				}
			}
			return nil, &UnsupportedTypeError{PythonType: module + "." + name, Reason: "unexpected constructor arguments"}
		}), nil
	case "builtins.getattr", "__builtin__.getattr":
		return callFunc(getattrOf), nil
	}
	return &foreign{name: module + "." + name}, nil
}

// foreign is a Python class without a Go counterpart. Building a value of
// it (or reading a member of it, as an enum's pickle does) is an
// *UnsupportedTypeError naming the class.
type foreign struct{ name string }

func (f *foreign) Call(...any) (any, error)  { return nil, &UnsupportedTypeError{PythonType: f.name} }
func (f *foreign) PyNew(...any) (any, error) { return nil, &UnsupportedTypeError{PythonType: f.name} }

// getattrOf is builtins.getattr, which enum members are pickled with.
func getattrOf(args ...any) (any, error) {
	if len(args) == 2 {
		if f, ok := args[0].(*foreign); ok {
			member, _ := args[1].(string)
			return nil, &UnsupportedTypeError{PythonType: f.name, Reason: "member " + member}
		}
	}
	return nil, &UnsupportedTypeError{PythonType: "builtins.getattr", Reason: "only enum members are pickled with getattr"}
}

// converter turns gopickle's values into this package's. left bounds the
// values it builds: shared references (a list holding the same list many
// times over) are copied, so a small pickle could otherwise expand without
// end.
type converter struct{ left int }

func (cv *converter) convert(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, &UnsupportedTypeError{PythonType: pythonTypeOf(v), Reason: "nested more than 1000 levels deep, or contains itself"}
	}
	if cv.left--; cv.left < 0 {
		return nil, &UnsupportedTypeError{PythonType: pythonTypeOf(v), Reason: "shared references expand to too many values"}
	}
	depth++
	switch x := v.(type) {
	case nil, bool, float64, string, []byte, complex128, time.Time, time.Duration, Date, TimeOfDay, Decimal, UUID:
		return x, nil
	case int:
		return int64(x), nil
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), nil
		}
		return x, nil
	case *types.ByteArray:
		return []byte(*x), nil
	case *types.List:
		return cv.convertAll([]any(*x), depth)
	case *types.Tuple:
		items, err := cv.convertAll([]any(*x), depth)
		return Tuple(items), err
	case Set:
		items, err := cv.convertAll(x, depth)
		return Set(sortElements(items)), err
	case FrozenSet:
		items, err := cv.convertAll(x, depth)
		return FrozenSet(sortElements(items)), err
	case *types.Set:
		items, err := cv.convertAll(setKeys(*x), depth)
		return Set(sortElements(items)), err
	case *types.FrozenSet:
		keys := make([]any, 0, len(*x))
		for k := range *x {
			keys = append(keys, k)
		}
		items, err := cv.convertAll(keys, depth)
		return FrozenSet(sortElements(items)), err
	case *types.Dict:
		return cv.convertDict(*x, depth)
	case *types.OrderedDict:
		d := make(types.Dict, 0, x.Len())
		for e := x.List.Front(); e != nil; e = e.Next() {
			entry := e.Value.(*types.OrderedDictEntry)
			d = append(d, types.DictEntry{Key: entry.Key, Value: entry.Value})
		}
		return cv.convertDict(d, depth)
	case *uuidState:
		if x.n == nil {
			return nil, &UnsupportedTypeError{PythonType: "uuid.UUID", Reason: "state missing"}
		}
		var u UUID
		x.n.FillBytes(u[:])
		return u, nil
	case *foreign:
		return nil, &UnsupportedTypeError{PythonType: x.name, Reason: "a class object, not a value"}
	case *types.GenericClass:
		return nil, &UnsupportedTypeError{PythonType: x.Module + "." + x.Name}
	case *types.ObjectClass, *types.Reconstructor, *types.OrderedDictClass:
		return nil, &UnsupportedTypeError{PythonType: fmt.Sprintf("%T", x), Reason: "a class object, not a value"}
	}
	return nil, &UnsupportedTypeError{PythonType: fmt.Sprintf("unknown (unpickled as Go %T)", v)}
}

func setKeys(s types.Set) []any {
	keys := make([]any, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	return keys
}

func (cv *converter) convertAll(in []any, depth int) ([]any, error) {
	out := make([]any, len(in))
	for i, e := range in {
		c, err := cv.convert(e, depth)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

func (cv *converter) convertDict(in types.Dict, depth int) (Dict, error) {
	out := make(Dict, len(in))
	for i, e := range in {
		k, err := cv.convert(e.Key, depth)
		if err != nil {
			return nil, err
		}
		v, err := cv.convert(e.Value, depth)
		if err != nil {
			return nil, err
		}
		out[i] = Item{Key: k, Value: v}
	}
	return out, nil
}

// sortElements orders set elements by type and text, so that a set decodes
// the same way every time.
func sortElements(items []any) []any {
	sort.SliceStable(items, func(i, j int) bool {
		return fmt.Sprintf("%T %v", items[i], items[i]) < fmt.Sprintf("%T %v", items[j], items[j])
	})
	return items
}

// pythonTypeOf names the Python type of an unconverted container.
func pythonTypeOf(v any) string {
	switch v.(type) {
	case *types.List:
		return "list"
	case *types.Tuple:
		return "tuple"
	case *types.Dict, *types.OrderedDict:
		return "dict"
	case *types.Set, Set:
		return "set"
	case *types.FrozenSet, FrozenSet:
		return "frozenset"
	}
	return fmt.Sprintf("unknown (Go %T)", v)
}
