package pickle

import (
	"fmt"
	"math/big"
	"sort"
	"time"
)

// Decode reads one pickle (any protocol, 0 to 5) into the Go values listed
// in the package documentation. A class without a Go counterpart is an
// *UnsupportedTypeError naming it; a malformed pickle is an error. Memory
// stays within 32 times the pickle's size plus 1 MiB, counting a value the
// pickle shares (its memo) once per place it appears, as a copy would; a
// pickle that needs more is refused with an error wrapping ErrTooLarge.
// Shared values are shared in the result too, as in Python. Decode never
// panics.
func Decode(data []byte) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("pickle: malformed or unsupported pickle: %v", r)
		}
	}()
	if err := scan(data); err != nil {
		return nil, err
	}
	m := newMachine(data)
	raw, err := m.run()
	if err != nil {
		return nil, err
	}
	return m.convert(raw, 0)
}

// caller is a Python callable (REDUCE, INST, OBJ).
type caller interface {
	Call(args ...any) (any, error)
}

// newer is a Python class that NEWOBJ instantiates.
type newer interface {
	PyNew(args ...any) (any, error)
}

// callFunc is a Python callable the unpickler calls with REDUCE.
type callFunc func(args ...any) (any, error)

func (f callFunc) Call(args ...any) (any, error) { return f(args...) }

// newClass is a Python class the unpickler instantiates with NEWOBJ.
type newClass func(args ...any) (any, error)

func (f newClass) PyNew(args ...any) (any, error) { return f(args...) }

func findClass(module, name string) any {
	switch module + "." + name {
	case "builtins.set", "__builtin__.set":
		return callFunc(func(args ...any) (any, error) { return collect(args, "set", func(e []any) any { return Set(e) }) })
	case "builtins.frozenset", "__builtin__.frozenset":
		return callFunc(func(args ...any) (any, error) {
			return collect(args, "frozenset", func(e []any) any { return FrozenSet(e) })
		})
	case "builtins.bytes", "__builtin__.bytes", "builtins.bytearray", "__builtin__.bytearray":
		return callFunc(bytesOf)
	case "_codecs.encode":
		return callFunc(latin1)
	case "builtins.complex", "__builtin__.complex":
		return callFunc(complexOf)
	case "datetime.datetime":
		return callFunc(datetimeOf)
	case "datetime.date":
		return callFunc(dateOf)
	case "datetime.time":
		return callFunc(timeOf)
	case "datetime.timedelta":
		return callFunc(timedeltaOf)
	case "datetime.timezone":
		return callFunc(timezoneOf)
	case "decimal.Decimal":
		return callFunc(decimalOf)
	case "uuid.UUID":
		return uuidClass{}
	case "uuid.SafeUUID":
		return callFunc(func(...any) (any, error) { return safeUUID{}, nil })
	case "django.utils.safestring.SafeString", "django.utils.safestring.SafeText":
		return newClass(func(args ...any) (any, error) {
			if len(args) == 1 {
				if s, ok := args[0].(string); ok {
					return s, nil
				}
			}
			return nil, &UnsupportedTypeError{PythonType: module + "." + name, Reason: "unexpected constructor arguments"}
		})
	case "builtins.getattr", "__builtin__.getattr":
		return callFunc(getattrOf)
	case "collections.OrderedDict":
		return callFunc(orderedDictOf)
	case "copy_reg._reconstructor", "copyreg._reconstructor":
		return callFunc(reconstruct)
	case "builtins.object", "__builtin__.object":
		return objectClass{}
	}
	return &foreign{name: module + "." + name}
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

// convert turns what the machine built into this package's values: lists,
// dicts and sets are converted in place (their arrays become the result's),
// tuples and frozensets keep theirs. A value the pickle shares is shared in
// the result; each further place it appears is charged to the budget by its
// size (walked again), so a result with exponentially many paths through
// shared values is refused, not built, and Into, which copies along every
// path, stays within the same bound.
func (m *machine) convert(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, &UnsupportedTypeError{PythonType: pythonTypeOf(v), Reason: "nested more than 1000 levels deep"}
	}
	switch x := v.(type) {
	case nil, bool, int64, float64, string, []byte, complex128, time.Time, time.Duration, Date, TimeOfDay, Decimal, UUID:
		return v, nil
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), m.charge(scalarBox)
		}
		return v, nil
	case *pySeq:
		if x.state != unvisited {
			return m.revisit(x.state, pythonTypeOf(x), x.result(), depth)
		}
		x.state = visiting
		if x.items == nil {
			x.items = []any{}
		}
		if err := m.convertAll(x.items, depth); err != nil {
			return nil, err
		}
		x.state = visited
		if x.set {
			return x.result(), m.sortElements(x.items)
		}
		return x.result(), m.charge(boxSize)
	case *pyDict:
		if x.state != unvisited {
			return m.revisit(x.state, "dict", Dict(x.items), depth)
		}
		x.state = visiting
		if x.items == nil {
			x.items = Dict{}
		}
		for i := range x.items {
			var err error
			if x.items[i].Key, err = m.convert(x.items[i].Key, depth+1); err != nil {
				return nil, err
			}
			if x.items[i].Value, err = m.convert(x.items[i].Value, depth+1); err != nil {
				return nil, err
			}
		}
		x.state = visited
		return Dict(x.items), m.charge(boxSize)
	case Tuple, []any, Dict: // a tuple (it may be shared: every visit is charged), or a result seen again
		return v, m.convertFinal(v, depth)
	case Set, FrozenSet:
		if err := m.convertFinal(v, depth); err != nil {
			return nil, err
		}
		return v, m.sortElements(elementsOf(v))
	case *uuidState:
		if x.n == nil {
			return nil, &UnsupportedTypeError{PythonType: "uuid.UUID", Reason: "state missing"}
		}
		var u UUID
		x.n.FillBytes(u[:])
		return u, nil
	case *foreign:
		return nil, &UnsupportedTypeError{PythonType: x.name, Reason: "a class object, not a value"}
	case objectClass, uuidClass, callFunc, newClass:
		return nil, &UnsupportedTypeError{PythonType: fmt.Sprintf("%T", x), Reason: "a class object, not a value"}
	}
	return nil, &UnsupportedTypeError{PythonType: fmt.Sprintf("unknown (unpickled as Go %T)", v)}
}

// revisit returns a converted container at a further place it appears,
// charging its size again; one still being converted contains itself.
func (m *machine) revisit(state visit, typ string, final any, depth int) (any, error) {
	if state == visiting {
		return nil, &UnsupportedTypeError{PythonType: typ, Reason: "contains itself"}
	}
	return final, m.convertFinal(final, depth)
}

func (m *machine) convertAll(items []any, depth int) error {
	for i, e := range items {
		c, err := m.convert(e, depth+1)
		if err != nil {
			return err
		}
		items[i] = c
	}
	return nil
}

// convertFinal converts the items of a tuple, frozenset or set in place
// (or walks a converted container again: converting converted values
// changes nothing), charging a slot per item and the container's box.
func (m *machine) convertFinal(v any, depth int) error {
	if d, ok := v.(Dict); ok {
		if err := m.charge(boxSize + len(d)*2*slotSize); err != nil { // only met again
			return err
		}
		for i := range d {
			var err error
			if d[i].Key, err = m.convert(d[i].Key, depth+1); err != nil {
				return err
			}
			if d[i].Value, err = m.convert(d[i].Value, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	items := elementsOf(v)
	if m.shared { // only a pickle that pushed a value twice can meet it twice
		if err := m.charge(boxSize + len(items)*slotSize); err != nil {
			return err
		}
	}
	return m.convertAll(items, depth)
}

func elementsOf(v any) []any {
	switch x := v.(type) {
	case Tuple:
		return x
	case []any:
		return x
	case Set:
		return x
	case FrozenSet:
		return x
	}
	return nil
}

// sortElements orders set elements by type and text, so that a set decodes
// the same way every time; the texts are charged to the budget.
func (m *machine) sortElements(items []any) error {
	keys := make([]string, len(items))
	if err := m.charge(len(items) * (slotSize + 16)); err != nil {
		return err
	}
	for i, e := range items {
		keys[i] = fmt.Sprintf("%T %v", e, e)
		if err := m.charge(len(keys[i])); err != nil {
			return err
		}
	}
	sort.Stable(byKey{keys, items})
	return nil
}

type byKey struct {
	keys  []string
	items []any
}

func (b byKey) Len() int           { return len(b.keys) }
func (b byKey) Less(i, j int) bool { return b.keys[i] < b.keys[j] }
func (b byKey) Swap(i, j int) {
	b.keys[i], b.keys[j] = b.keys[j], b.keys[i]
	b.items[i], b.items[j] = b.items[j], b.items[i]
}

// pythonTypeOf names the Python type of a value under construction.
func pythonTypeOf(v any) string {
	switch x := v.(type) {
	case *pySeq:
		if x.set {
			return "set"
		}
		return "list"
	case *pyDict:
		return "dict"
	}
	return PythonType(v)
}

// result is the converted list or set.
func (s *pySeq) result() any {
	if s.set {
		return Set(s.items)
	}
	return s.items
}
