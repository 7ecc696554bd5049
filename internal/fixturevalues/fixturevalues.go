// Package fixturevalues holds, for every value of tests/fixtures/values.json,
// the Go value core/pickle and core/djcache decode it to (or the Python type
// the decode error names), and a comparison that tells -0.0 from 0.0, NaN
// from everything, and a naive datetime from an aware one. Tests and the
// cross-language helper share it.
package fixturevalues

import (
	"crypto/sha256"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/pickle"
)

// Want is the expected outcome of decoding one fixture value.
type Want struct {
	// Value is the expected Go value when Err is "".
	Value any
	// Err is the Python type the *pickle.UnsupportedTypeError must name,
	// or "" when the value decodes.
	Err string
}

func big2(s string) *big.Int {
	n, _ := new(big.Int).SetString(s, 10)
	return n
}

// LargeStr rebuilds str_300k_compressible from its recipe.
func LargeStr() string {
	var b strings.Builder
	for i := 0; i < 6000; i++ {
		fmt.Fprintf(&b, "line %06d: the quick brown fox jumps over the lazy dog\n", i)
	}
	return b.String()[:307200]
}

// LargeBytes rebuilds bytes_300k_random from its recipe.
func LargeBytes() []byte {
	out := make([]byte, 0, 307200)
	for i := 0; i < 9600; i++ {
		d := sha256.Sum256([]byte(fmt.Sprintf("fixture-random-%d", i)))
		out = append(out, d[:]...)
	}
	return out
}

func dictLarge() pickle.Dict {
	d := make(pickle.Dict, 1000)
	for i := range d {
		d[i] = pickle.Item{Key: fmt.Sprintf("k%04d", i), Value: []any{int64(i), fmt.Sprint(i), float64(i) * 0.5}}
	}
	return d
}

// All returns the expected outcome for every value name of values.json.
func All() map[string]Want {
	v := func(x any) Want { return Want{Value: x} }
	at := time.Date(2024, 2, 29, 13, 45, 30, 0, time.UTC)
	return map[string]Want{
		"int_zero":              v(int64(0)),
		"int_one":               v(int64(1)),
		"int_neg":               v(int64(-5)),
		"int_big":               v(big2("1180591620717411303424")),
		"int_big_neg":           v(big2("-18446744073709551616")),
		"int_subclass_intenum":  {Err: "http.HTTPStatus"},
		"bool_true":             v(true),
		"bool_false":            v(false),
		"none":                  v(nil),
		"float_1_5":             v(1.5),
		"float_integral":        v(2.0),
		"float_neg_zero":        v(math.Copysign(0, -1)),
		"float_inf":             v(math.Inf(1)),
		"float_neg_inf":         v(math.Inf(-1)),
		"float_nan":             v(math.NaN()),
		"complex":               v(complex(1, -2)),
		"str_empty":             v(""),
		"str_abc":               v("abc"),
		"str_numeric":           v("123"),
		"str_numeric_ws":        v(" -7 "),
		"str_unicode":           v("naïve café — 日本語 😀 здравствуй"),
		"str_control":           v("\x00\n\t\"\\\x7f"),
		"str_500":               v(strings.Repeat("0123456789", 50)),
		"str_300k_compressible": v(LargeStr()),
		"bytes_00ff":            v([]byte{0, 0xff}),
		"bytes_empty":           v([]byte{}),
		"bytes_numeric":         v([]byte("42")),
		"bytearray_abc":         v([]byte("abc")),
		"bytes_300k_random":     v(LargeBytes()),
		"list_mixed":            v([]any{int64(1), "two", 3.0, nil, true}),
		"list_empty":            v([]any{}),
		"tuple_nested":          v(pickle.Tuple{int64(1), "a", pickle.Tuple{int64(2), int64(3)}}),
		"tuple_empty":           v(pickle.Tuple{}),
		"dict_nested": v(pickle.Dict{
			{Key: "a", Value: int64(1)},
			{Key: "b", Value: pickle.Dict{
				{Key: "c", Value: []any{int64(1), int64(2), pickle.Dict{{Key: "d", Value: nil}}}},
				{Key: "e", Value: "f"},
			}},
			{Key: "g", Value: []any{true, false}},
			{Key: "h", Value: 1.25},
		}),
		"dict_int_keys":     v(pickle.Dict{{Key: int64(1), Value: "one"}, {Key: int64(2), Value: "two"}}),
		"dict_empty":        v(pickle.Dict{}),
		"dict_large":        v(dictLarge()),
		"ordered_dict":      v(pickle.Dict{{Key: "b", Value: int64(1)}, {Key: "a", Value: int64(2)}}),
		"set_int":           v(pickle.Set{int64(1), int64(2), int64(3)}),
		"set_str":           v(pickle.Set{"a", "b", "c"}),
		"set_empty":         v(pickle.Set{}),
		"frozenset_int":     v(pickle.FrozenSet{int64(1), int64(2), int64(3)}),
		"datetime_utc":      v(at.Add(123456 * time.Microsecond)),
		"datetime_offset":   v(time.Date(2024, 2, 29, 13, 45, 30, 0, time.FixedZone("", 19800))),
		"datetime_naive":    v(time.Date(2024, 2, 29, 13, 45, 30, 123456000, pickle.Naive)),
		"date":              v(pickle.Date{Year: 2024, Month: time.February, Day: 29}),
		"time":              v(pickle.TimeOfDay{Hour: 13, Minute: 45, Second: 30}),
		"timedelta":         v(24*time.Hour + 5*time.Second + 7*time.Microsecond),
		"decimal":           v(pickle.Decimal("3.141592653589793238462643383279")),
		"uuid":              v(pickle.UUID{0x12, 0x34, 0x56, 0x78, 0x12, 0x34, 0x56, 0x78, 0x12, 0x34, 0x56, 0x78, 0x12, 0x34, 0x56, 0x78}),
		"django_safestring": v("<b>safe</b>"),
	}
}

// Equal reports whether got is want, exactly: the same Go types all the
// way down, floats bit for bit (any NaN equals any NaN), times at the same
// instant with the same offset and the same naive-ness, sets and
// frozensets as multisets.
func Equal(got, want any) bool {
	switch w := want.(type) {
	case float64:
		g, ok := got.(float64)
		return ok && (g == w && math.Signbit(g) == math.Signbit(w) || math.IsNaN(g) && math.IsNaN(w))
	case *big.Int:
		g, ok := got.(*big.Int)
		return ok && g.Cmp(w) == 0
	case time.Time:
		g, ok := got.(time.Time)
		if !ok || !g.Equal(w) || (g.Location() == pickle.Naive) != (w.Location() == pickle.Naive) {
			return false
		}
		_, go1 := g.Zone()
		_, wo := w.Zone()
		return go1 == wo
	case []byte:
		g, ok := got.([]byte)
		return ok && string(g) == string(w)
	case []any:
		g, ok := got.([]any)
		return ok && allEqual(g, w)
	case pickle.Tuple:
		g, ok := got.(pickle.Tuple)
		return ok && allEqual(g, w)
	case pickle.Set:
		g, ok := got.(pickle.Set)
		return ok && sameElements(g, w)
	case pickle.FrozenSet:
		g, ok := got.(pickle.FrozenSet)
		return ok && sameElements(g, w)
	case pickle.Dict:
		g, ok := got.(pickle.Dict)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !Equal(g[i].Key, w[i].Key) || !Equal(g[i].Value, w[i].Value) {
				return false
			}
		}
		return true
	case nil:
		return got == nil
	}
	return fmt.Sprintf("%T", got) == fmt.Sprintf("%T", want) && got == want
}

func allEqual(got, want []any) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if !Equal(got[i], want[i]) {
			return false
		}
	}
	return true
}

func sameElements(got, want []any) bool {
	if len(got) != len(want) {
		return false
	}
	used := make([]bool, len(got))
outer:
	for _, w := range want {
		for i, g := range got {
			if !used[i] && Equal(g, w) {
				used[i] = true
				continue outer
			}
		}
		return false
	}
	return true
}
