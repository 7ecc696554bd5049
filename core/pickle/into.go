package pickle

import (
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strings"
	"time"
)

// MismatchError reports a decoded Python value that Into cannot store in
// the Go variable it was given.
type MismatchError struct {
	// PythonType is the value's Python type ("str", "datetime.date" …).
	PythonType string
	// GoType is the type of the destination.
	GoType reflect.Type
	// Reason says more, e.g. "out of range"; may be "".
	Reason string
}

// Error names both types.
func (e *MismatchError) Error() string {
	s := fmt.Sprintf("pickle: cannot store Python %s in Go %s", e.PythonType, e.GoType)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

var (
	anyType      = reflect.TypeOf((*any)(nil)).Elem()
	bigIntType   = reflect.TypeOf(big.Int{})
	timeType     = reflect.TypeOf(time.Time{})
	durationType = reflect.TypeOf(time.Duration(0))
)

// Into stores v, a value from Decode (or from the JSON and msgpack readers
// of a cache), in the variable dst points to. It converts between the
// Python type and the Go type when no information is lost: an int into any
// Go integer type it fits, an int or float into a float, str into string or
// []byte, bytes into []byte or string, list/tuple/set/frozenset into a
// slice, dict into a map whose key type fits every key, and each value
// type of the package documentation into itself, and a dict with str keys
// into a struct (see below). Anything else is a
// *MismatchError; dst is left unchanged then, or partly filled for
// containers.
func Into(v any, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("pickle: Into needs a non-nil pointer, not %T", dst)
	}
	return assign(v, rv.Elem())
}

func mismatch(v any, t reflect.Type, reason string) error {
	return &MismatchError{PythonType: PythonType(v), GoType: t, Reason: reason}
}

func assign(v any, dst reflect.Value) error {
	t := dst.Type()
	if t == anyType {
		if v == nil {
			dst.SetZero()
		} else {
			dst.Set(reflect.ValueOf(v))
		}
		return nil
	}
	if v != nil && reflect.TypeOf(v) == t && t.Kind() != reflect.Slice {
		dst.Set(reflect.ValueOf(v))
		return nil
	}
	switch t {
	case bigIntType:
		n, ok := toBig(v)
		if !ok {
			return mismatch(v, t, "")
		}
		dst.Set(reflect.ValueOf(*n))
		return nil
	case timeType, durationType:
		return mismatch(v, t, "")
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v == nil {
			dst.SetZero()
			return nil
		}
		p := reflect.New(t.Elem())
		if err := assign(v, p.Elem()); err != nil {
			return err
		}
		dst.Set(p)
		return nil
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return mismatch(v, t, "")
		}
		dst.SetBool(b)
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := toBig(v)
		if !ok {
			return mismatch(v, t, "")
		}
		if !n.IsInt64() || dst.OverflowInt(n.Int64()) {
			return mismatch(v, t, "out of range")
		}
		dst.SetInt(n.Int64())
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := toBig(v)
		if !ok {
			return mismatch(v, t, "")
		}
		if n.Sign() < 0 || !n.IsUint64() || dst.OverflowUint(n.Uint64()) {
			return mismatch(v, t, "out of range")
		}
		dst.SetUint(n.Uint64())
		return nil
	case reflect.Float32, reflect.Float64:
		switch x := v.(type) {
		case float64:
			dst.SetFloat(x)
		case int64:
			if x > 1<<53 || x < -(1<<53) {
				return mismatch(v, t, "not exact as a float")
			}
			dst.SetFloat(float64(x))
		default:
			return mismatch(v, t, "")
		}
		return nil
	case reflect.String:
		switch x := v.(type) {
		case string:
			dst.SetString(x)
		case []byte:
			dst.SetString(string(x))
		default:
			return mismatch(v, t, "")
		}
		return nil
	case reflect.Slice:
		return assignSlice(v, dst)
	case reflect.Map:
		return assignMap(v, dst)
	case reflect.Struct:
		return assignStruct(v, dst)
	}
	return mismatch(v, t, "")
}

// assignStruct fills a struct from a dict with str keys: each exported
// field from the key named by its `py:"name"` tag, or else the key equal
// to the field name ignoring case. Keys without a field are ignored;
// fields without a key keep their value.
func assignStruct(v any, dst reflect.Value) error {
	t := dst.Type()
	d, ok := v.(Dict)
	if !ok {
		return mismatch(v, t, "")
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, tagged := f.Tag.Lookup("py")
		for _, it := range d {
			k, isStr := it.Key.(string)
			if isStr && (k == name || !tagged && strings.EqualFold(k, f.Name)) {
				if err := assign(it.Value, dst.Field(i)); err != nil {
					return fmt.Errorf("field %s: %w", f.Name, err)
				}
				break
			}
		}
	}
	return nil
}

func toBig(v any) (*big.Int, bool) {
	switch x := v.(type) {
	case int64:
		return big.NewInt(x), true
	case *big.Int:
		return x, true
	case float64: // JSON readers give whole numbers as floats only beyond int64
		if x == math.Trunc(x) && !math.IsInf(x, 0) {
			n, _ := big.NewFloat(x).Int(nil)
			return n, true
		}
	}
	return nil, false
}

func elements(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case Tuple:
		return x, true
	case Set:
		return x, true
	case FrozenSet:
		return x, true
	}
	return nil, false
}

func assignSlice(v any, dst reflect.Value) error {
	t := dst.Type()
	if t.Elem().Kind() == reflect.Uint8 {
		switch x := v.(type) {
		case []byte:
			dst.SetBytes(append([]byte(nil), x...))
			return nil
		case string:
			dst.SetBytes([]byte(x))
			return nil
		}
	}
	items, ok := elements(v)
	if !ok {
		return mismatch(v, t, "")
	}
	out := reflect.MakeSlice(t, len(items), len(items))
	for i, it := range items {
		if err := assign(it, out.Index(i)); err != nil {
			return fmt.Errorf("item %d: %w", i, err)
		}
	}
	dst.Set(out)
	return nil
}

func assignMap(v any, dst reflect.Value) error {
	t := dst.Type()
	var d Dict
	switch x := v.(type) {
	case Dict:
		d = x
	case map[string]any:
		for k, val := range x {
			d = append(d, Item{Key: k, Value: val})
		}
	default:
		return mismatch(v, t, "")
	}
	out := reflect.MakeMapWithSize(t, len(d))
	for _, it := range d {
		k := reflect.New(t.Key()).Elem()
		if err := assign(it.Key, k); err != nil {
			return fmt.Errorf("key %v: %w", it.Key, err)
		}
		val := reflect.New(t.Elem()).Elem()
		if err := assign(it.Value, val); err != nil {
			return fmt.Errorf("key %v: %w", it.Key, err)
		}
		out.SetMapIndex(k, val)
	}
	dst.Set(out)
	return nil
}
