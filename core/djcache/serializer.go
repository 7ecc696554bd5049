package djcache

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/pickle"
)

// Serializer turns a value into the bytes stored (before compression) and
// back. Plain integers never reach it: they are stored as decimal text.
type Serializer interface {
	// Marshal returns the serialized form of v.
	Marshal(v any) ([]byte, error)
	// Unmarshal reads what Marshal (or the matching Python serializer)
	// wrote, into the Go types of core/pickle.
	Unmarshal(data []byte) (any, error)
}

var (
	// Pickle is OPTIONS["SERIALIZER"] "pickle", the default of every
	// Django Redis backend: core/pickle's Decode and Encode.
	Pickle Serializer = pickleSerializer{}
	// JSON is "json" (Django's DjangoJSONEncoder flavour): UTF-8 JSON with
	// datetimes, dates, times, durations, Decimals and UUIDs written as
	// strings the way Django writes them. Objects read back as
	// pickle.Dict (keys sorted), arrays as []any, whole numbers as int64
	// (or *big.Int), other numbers as float64. Sets and bytes are refused,
	// as Python's json refuses them.
	JSON Serializer = jsonSerializer{}
	// MsgPack is "msgpack" (use_bin_type=True, raw=False): str as str,
	// bytes as bin; maps read back as pickle.Dict, arrays as []any. Sets,
	// datetimes, Decimals and UUIDs are refused, as Python's msgpack
	// refuses them.
	MsgPack Serializer = msgpackSerializer{}
)

type pickleSerializer struct{}

func (pickleSerializer) Marshal(v any) ([]byte, error)      { return pickle.Encode(v) }
func (pickleSerializer) Unmarshal(data []byte) (any, error) { return pickle.Decode(data) }

type jsonSerializer struct{}

func (jsonSerializer) Marshal(v any) ([]byte, error) {
	j, err := toJSON(v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(j)
}

func (jsonSerializer) Unmarshal(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("djcache: invalid JSON value: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("djcache: invalid JSON value: data after the value")
	}
	return fromJSON(v)
}

// toJSON maps a Go value onto what json.Marshal writes as Python's
// json.dumps(value, cls=DjangoJSONEncoder) would.
func toJSON(v any) (any, error) {
	switch x := v.(type) {
	case float64:
		return pyFloat(x), nil
	case float32:
		return pyFloat(x), nil
	case nil, bool, string, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, *big.Int:
		return x, nil
	case pickle.Decimal:
		return string(x), nil
	case pickle.UUID:
		return x.String(), nil
	case time.Time:
		s := x.Format("2006-01-02T15:04:05.000")
		if x.Nanosecond() < 1e6 {
			s = x.Format("2006-01-02T15:04:05")
		}
		if x.Location() != pickle.Naive {
			if _, off := x.Zone(); off == 0 {
				s += "Z"
			} else {
				s += x.Format("-07:00")
			}
		}
		return s, nil
	case pickle.Date:
		return x.String(), nil
	case pickle.TimeOfDay:
		s := fmt.Sprintf("%02d:%02d:%02d", x.Hour, x.Minute, x.Second)
		if x.Microsecond != 0 {
			s += fmt.Sprintf(".%03d", x.Microsecond/1000)
		}
		return s, nil
	case time.Duration: // Django's duration_iso_string
		return isoDuration(x), nil
	case pickle.Dict:
		m := make(map[string]any, len(x))
		for _, it := range x {
			k, err := jsonKey(it.Key)
			if err != nil {
				return nil, err
			}
			if m[k], err = toJSON(it.Value); err != nil {
				return nil, err
			}
		}
		return m, nil
	case pickle.Tuple:
		return toJSONAll(x)
	case []any:
		return toJSONAll(x)
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			var err error
			if m[k], err = toJSON(e); err != nil {
				return nil, err
			}
		}
		return m, nil
	case []string, []int, []int64, []float64, map[string]string, map[string]int:
		return x, nil
	}
	return nil, &pickle.UnsupportedTypeError{GoType: fmt.Sprintf("%T", v), Reason: "JSON has no form for it"}
}

// pyFloat writes a float as Python's json.dumps does: always with a
// fraction or an exponent ("2.0", not "2", which Python would read as an
// int), and NaN and the infinities as the NaN/Infinity tokens Python reads.
type pyFloat float64

func (f pyFloat) MarshalJSON() ([]byte, error) {
	x := float64(f)
	switch {
	case math.IsNaN(x):
		return []byte("NaN"), nil
	case math.IsInf(x, 1):
		return []byte("Infinity"), nil
	case math.IsInf(x, -1):
		return []byte("-Infinity"), nil
	}
	a := math.Abs(x)
	var s string
	if a == 0 || (a >= 1e-4 && a < 1e16) {
		s = strconv.FormatFloat(x, 'f', -1, 64)
	} else {
		s = strconv.FormatFloat(x, 'e', -1, 64)
	}
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return []byte(s), nil
}

func toJSONAll(items []any) ([]any, error) {
	out := make([]any, len(items))
	for i, it := range items {
		var err error
		if out[i], err = toJSON(it); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// jsonKey writes a dict key as json.dumps does: str as is, int, float and
// bool as their JSON text, None as "null".
func jsonKey(k any) (string, error) {
	switch x := k.(type) {
	case string:
		return x, nil
	case nil:
		return "null", nil
	case bool:
		if x {
			return "true", nil
		}
		return "false", nil
	case int64, int, *big.Int:
		return fmt.Sprint(x), nil
	}
	return "", &pickle.UnsupportedTypeError{GoType: fmt.Sprintf("%T", k), Reason: "not a JSON object key"}
}

func isoDuration(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h, m := d/time.Hour, (d%time.Hour)/time.Minute
	s := d % time.Minute
	ms := ""
	if us := (s % time.Second) / time.Microsecond; us != 0 {
		ms = fmt.Sprintf(".%06d", us)
	}
	return fmt.Sprintf("%sP%dDT%02dH%02dM%02d%sS", sign, days, h, m, s/time.Second, ms)
}

func fromJSON(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			n, ok := new(big.Int).SetString(s, 10)
			if !ok {
				return nil, fmt.Errorf("djcache: invalid JSON number %s", s)
			}
			if n.IsInt64() {
				return n.Int64(), nil
			}
			return n, nil
		}
		return x.Float64()
	case []any:
		for i, e := range x {
			var err error
			if x[i], err = fromJSON(e); err != nil {
				return nil, err
			}
		}
		return x, nil
	case map[string]any:
		d := make(pickle.Dict, 0, len(x))
		for k, e := range x {
			val, err := fromJSON(e)
			if err != nil {
				return nil, err
			}
			d = append(d, pickle.Item{Key: k, Value: val})
		}
		sort.Slice(d, func(i, j int) bool { return d[i].Key.(string) < d[j].Key.(string) })
		return d, nil
	}
	return v, nil
}
