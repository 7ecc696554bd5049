package pickle

import (
	"encoding/hex"
	"errors"
	"math"
	"math/big"
	"reflect"
	"testing"
	"time"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	huge, _ := new(big.Int).SetString("-123456789012345678901234567890", 10)
	tests := []struct {
		name string
		in   any
		want any // nil: same as in
	}{
		{"none", nil, nil},
		{"true", true, nil},
		{"small int", int64(7), nil},
		{"int boundaries", []any{int64(255), int64(256), int64(65535), int64(65536), int64(-1), int64(math.MinInt32), int64(math.MaxInt32), int64(math.MaxInt64), int64(math.MinInt64)}, nil},
		{"go int types", []any{int8(-3), uint16(9), uint64(math.MaxUint64)}, []any{int64(-3), int64(9), new(big.Int).SetUint64(math.MaxUint64)}},
		{"big", huge, nil},
		{"float", 1.25, nil},
		{"complex", complex(1, -2), nil},
		{"str", "naïve 😀", nil},
		{"long str", string(make([]byte, 300)), nil},
		{"bytes", []byte{0, 1, 255}, nil},
		{"tuple sizes", []any{Tuple{}, Tuple{int64(1)}, Tuple{int64(1), int64(2)}, Tuple{int64(1), int64(2), int64(3)}, Tuple{int64(1), int64(2), int64(3), int64(4)}}, nil},
		{"dict", Dict{{Key: int64(1), Value: "a"}, {Key: Tuple{"x"}, Value: nil}}, nil},
		{"map", map[string]int{"b": 2, "a": 1}, Dict{{Key: "a", Value: int64(1)}, {Key: "b", Value: int64(2)}}},
		{"slice of strings", []string{"x", "y"}, []any{"x", "y"}},
		{"set", Set{int64(2), int64(1)}, Set{int64(1), int64(2)}},
		{"frozenset", FrozenSet{"a"}, nil},
		{"naive datetime", time.Date(2024, 2, 29, 1, 2, 3, 4000, Naive), nil},
		{"date", Date{Year: 1999, Month: 12, Day: 31}, nil},
		{"time", TimeOfDay{Hour: 23, Minute: 59, Second: 58, Microsecond: 999999}, nil},
		{"negative timedelta", -(36*time.Hour + 7*time.Microsecond), nil},
		{"decimal", Decimal("-1.50E+3"), nil},
		{"uuid", UUID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, nil},
	}
	for _, tc := range tests {
		data, err := Encode(tc.in)
		if err != nil {
			t.Errorf("%s: Encode: %v", tc.name, err)
			continue
		}
		got, err := Decode(data)
		want := tc.want
		if want == nil {
			want = tc.in
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %#v, %v; want %#v", tc.name, got, err, want)
		}
	}
}

func TestAwareDatetimeKeepsInstantAndOffset(t *testing.T) {
	for _, in := range []time.Time{
		time.Date(2024, 2, 29, 13, 45, 30, 123456000, time.UTC),
		time.Date(2024, 2, 29, 13, 45, 30, 0, time.FixedZone("IST", 19800)),
		time.Date(2024, 2, 29, 13, 45, 30, 0, time.FixedZone("", -3600)),
	} {
		data, _ := Encode(in)
		v, err := Decode(data)
		got, ok := v.(time.Time)
		_, wantOff := in.Zone()
		_, gotOff := got.Zone()
		if err != nil || !ok || !got.Equal(in) || gotOff != wantOff || got.Location() == Naive {
			t.Errorf("got %v, %v; want %v", v, err, in)
		}
	}
}

func TestEncodeRefusesGoOnlyTypes(t *testing.T) {
	for _, v := range []any{struct{ A int }{1}, make(chan int), func() {}, []any{map[string]any{"f": func() {}}}} {
		_, err := Encode(v)
		var ute *UnsupportedTypeError
		if !errors.As(err, &ute) || ute.GoType == "" {
			t.Errorf("Encode(%T): got %v; want an UnsupportedTypeError naming the Go type", v, err)
		}
	}
}

// Hostile or truncated input is an error, never a panic.
func TestDecodeMalformed(t *testing.T) {
	good, _ := Encode(Dict{{Key: "k", Value: []any{int64(1), Set{"a"}, time.Duration(5)}}})
	for i := 0; i < len(good); i++ {
		if _, err := Decode(good[:i]); err == nil {
			t.Errorf("truncated at %d: got no error; want one", i)
		}
	}
	for _, in := range [][]byte{nil, {0x80}, {0x80, 5, 'N', 'N', 'u', '.'}, {'c', 'o', 's', '\n', 's', 'y', 's', 't', 'e', 'm', '\n', ')', 'R', '.'}} {
		if _, err := Decode(in); err == nil {
			t.Errorf("Decode(%x): got no error; want one", in)
		}
	}
}

// Dict keys that Go cannot compare (bytes) or that are containers
// (tuples) decode to the right items.
func TestDecodeUnusualDictKeys(t *testing.T) {
	tests := []struct {
		hex  string // pickle.dumps(value, 4)
		want Dict
	}{
		{"80049511000000000000007d9428430161944b01430162944b02752e", Dict{{Key: []byte("a"), Value: int64(1)}, {Key: []byte("b"), Value: int64(2)}}},
		{"80049515000000000000007d94284b014b0286944b014b014b0386944b02752e", Dict{{Key: Tuple{int64(1), int64(2)}, Value: int64(1)}, {Key: Tuple{int64(1), int64(3)}, Value: int64(2)}}},
	}
	for _, tc := range tests {
		data, _ := hex.DecodeString(tc.hex)
		got, err := Decode(data)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %#v, %v; want %#v", tc.hex, got, err, tc.want)
		}
	}
}

func TestUnsupportedPythonTypeIsNamed(t *testing.T) {
	// pickle.dumps(fractions.Fraction(1, 3), 2)
	data := []byte("\x80\x02cfractions\nFraction\nq\x00X\x03\x00\x00\x001/3q\x01\x85q\x02Rq\x03.")
	_, err := Decode(data)
	var ute *UnsupportedTypeError
	if !errors.As(err, &ute) || ute.PythonType != "fractions.Fraction" {
		t.Errorf("got %v; want an UnsupportedTypeError naming fractions.Fraction", err)
	}
}

func TestInto(t *testing.T) {
	var (
		s  string
		i  int
		u8 uint8
		f  float64
		b  []byte
		ss []string
		m  map[string]int
		mi map[int64]string
		tm time.Time
		d  time.Duration
		p  *int
		av any
		bi big.Int
	)
	big70, _ := new(big.Int).SetString("1180591620717411303424", 10)
	ok := []struct {
		v    any
		dst  any
		want any
	}{
		{"x", &s, "x"},
		{[]byte("raw"), &s, "raw"},
		{int64(-5), &i, -5},
		{int64(200), &u8, uint8(200)},
		{int64(3), &f, 3.0},
		{"ab", &b, []byte("ab")},
		{Tuple{"a", "b"}, &ss, []string{"a", "b"}},
		{Set{"a"}, &ss, []string{"a"}},
		{Dict{{Key: "a", Value: int64(1)}}, &m, map[string]int{"a": 1}},
		{Dict{{Key: int64(1), Value: "one"}}, &mi, map[int64]string{1: "one"}},
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), &tm, time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)},
		{time.Second, &d, time.Second},
		{int64(4), &p, 4},
		{Decimal("1.5"), &av, Decimal("1.5")},
		{big70, &bi, *big70},
	}
	for _, tc := range ok {
		if err := Into(tc.v, tc.dst); err != nil {
			t.Errorf("Into(%#v, %T): %v", tc.v, tc.dst, err)
			continue
		}
		got := reflect.ValueOf(tc.dst).Elem().Interface()
		if pp, isPtr := got.(*int); isPtr {
			got = *pp
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Into(%#v, %T): got %#v; want %#v", tc.v, tc.dst, got, tc.want)
		}
	}
	bad := []struct {
		v          any
		dst        any
		pythonType string
	}{
		{int64(1), &s, "int"},
		{"1", &i, "str"},
		{int64(300), &u8, "int"},
		{big70, &i, "int"},
		{Date{Year: 2024, Month: 1, Day: 1}, &tm, "datetime.date"},
		{Dict{{Key: Tuple{}, Value: int64(1)}}, &m, "tuple"},
		{[]any{int64(1), "x"}, &ss, "int"},
		{1.5, &i, "float"},
	}
	for _, tc := range bad {
		err := Into(tc.v, tc.dst)
		var me *MismatchError
		if !errors.As(err, &me) || me.PythonType != tc.pythonType {
			t.Errorf("Into(%#v, %T): got %v; want a MismatchError naming Python %s", tc.v, tc.dst, err, tc.pythonType)
		}
	}
}

var benchRow = map[string]any{"id": 42, "name": "Ada Lovelace", "email": "ada@example.com", "active": true, "score": 97.5,
	"joined": time.Date(2024, 2, 29, 13, 45, 30, 0, time.UTC)}

func BenchmarkEncode(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Encode(benchRow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	data, _ := Encode(benchRow)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkInto(b *testing.B) {
	v, _ := Decode([]byte("\x80\x04]\x94(K\x01K\x02K\x03e."))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var ids []int
		if err := Into(v, &ids); err != nil {
			b.Fatal(err)
		}
	}
}

func TestIntoStruct(t *testing.T) {
	type row struct {
		Name  string
		Cents int `py:"price_cents"`
		Tags  []string
		skip  int
	}
	d := Dict{{Key: "name", Value: "mug"}, {Key: "price_cents", Value: int64(999)}, {Key: "tags", Value: []any{"a"}}, {Key: "other", Value: 1.5}}
	var got row
	if err := Into(d, &got); err != nil || got.Name != "mug" || got.Cents != 999 || len(got.Tags) != 1 || got.skip != 0 {
		t.Errorf("got %+v, %v; want {mug 999 [a] 0}", got, err)
	}
	var me *MismatchError
	if err := Into(Dict{{Key: "name", Value: int64(1)}}, &got); !errors.As(err, &me) || me.PythonType != "int" {
		t.Errorf("got %v; want a MismatchError naming Python int", err)
	}
}

// A list that contains itself, and a pickle whose shared references would
// expand exponentially, are errors rather than a hang or a crash.
func TestDecodeSelfReferenceAndExpansion(t *testing.T) {
	// l = []; l.append(l); pickle.dumps(l, 4)
	self := []byte("\x80\x04\x95\x06\x00\x00\x00\x00\x00\x00\x00]\x94h\x00a.")
	// a0 = []; a(i+1) = [a(i), a(i)] for 40 levels, memoised with BINPUT/BINGET
	expand := []byte{0x80, 4, ']', 'q', 0}
	for i := 0; i < 40; i++ {
		expand = append(expand, ']', '(', 'h', byte(i), 'h', byte(i), 'e', 'q', byte(i+1))
	}
	expand = append(expand, '.')
	v, err := Decode(self)
	var ute *UnsupportedTypeError
	if !errors.As(err, &ute) || ute.PythonType != "list" {
		t.Errorf("self: got %T, %v; want an UnsupportedTypeError naming list", v, err)
	}
	if v, err := Decode(expand); !errors.Is(err, ErrTooLarge) {
		t.Errorf("expand: got %T, %v; want ErrTooLarge", v, err)
	}
}
