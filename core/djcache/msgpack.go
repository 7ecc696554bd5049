package djcache

import (
	"bytes"
	"fmt"
	"io"
	"math/big"
	"sort"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/redis-cache-go/redis-cache-go/core/pickle"
)

type msgpackSerializer struct{}

func (msgpackSerializer) Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	if err := packValue(enc, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func packValue(enc *msgpack.Encoder, v any) error {
	switch x := v.(type) {
	case nil, bool, string, []byte, float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return enc.Encode(x)
	case *big.Int:
		if x.IsInt64() {
			return enc.EncodeInt(x.Int64())
		}
		if x.IsUint64() {
			return enc.EncodeUint(x.Uint64())
		}
	case pickle.Tuple:
		return packAll(enc, x)
	case []any:
		return packAll(enc, x)
	case pickle.Dict:
		if err := enc.EncodeMapLen(len(x)); err != nil {
			return err
		}
		for _, it := range x {
			if err := packValue(enc, it.Key); err != nil {
				return err
			}
			if err := packValue(enc, it.Value); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if err := enc.EncodeMapLen(len(x)); err != nil {
			return err
		}
		for _, k := range keys {
			if err := enc.EncodeString(k); err != nil {
				return err
			}
			if err := packValue(enc, x[k]); err != nil {
				return err
			}
		}
		return nil
	}
	return &pickle.UnsupportedTypeError{GoType: fmt.Sprintf("%T", v), Reason: "msgpack has no form for it"}
}

func packAll(enc *msgpack.Encoder, items []any) error {
	if err := enc.EncodeArrayLen(len(items)); err != nil {
		return err
	}
	for _, it := range items {
		if err := packValue(enc, it); err != nil {
			return err
		}
	}
	return nil
}

func (msgpackSerializer) Unmarshal(data []byte) (any, error) {
	r := bytes.NewReader(data)
	dec := msgpack.NewDecoder(r) // reads r directly (a bytes.Reader is an io.ByteScanner)
	v, err := unpack(dec, r, 0)
	if err != nil {
		return nil, fmt.Errorf("djcache: invalid msgpack value: %w", err)
	}
	if _, err := dec.PeekCode(); err == nil {
		return nil, fmt.Errorf("djcache: invalid msgpack value: data after the value")
	}
	return v, nil
}

// unpack reads one msgpack value: bin as []byte and str as string (as
// Python's raw=False reader does), arrays as []any, maps as pickle.Dict,
// integers as int64 (or *big.Int above it), floats as float64.
func unpack(dec *msgpack.Decoder, r *bytes.Reader, depth int) (any, error) {
	if depth > 1000 {
		return nil, fmt.Errorf("nested more than 1000 levels deep")
	}
	c, err := dec.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case msgpcode.IsBin(c) || msgpcode.IsString(c):
		// Read the bytes here, after checking the declared length against
		// what is left, so a forged length cannot allocate gigabytes.
		n, err := dec.DecodeBytesLen()
		if err != nil {
			return nil, err
		}
		if n < 0 || n > r.Len() {
			return nil, fmt.Errorf("a length of %d runs past the end of the value", n)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		if msgpcode.IsString(c) {
			return string(b), nil
		}
		return b, nil
	case msgpcode.IsExt(c):
		return nil, fmt.Errorf("msgpack extension types have no Python counterpart here")
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := dec.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		out := make([]any, 0, min(max(n, 0), 1024)) // n comes from the data: grow as items arrive
		for i := 0; i < n; i++ {
			v, err := unpack(dec, r, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := dec.DecodeMapLen()
		if err != nil {
			return nil, err
		}
		d := make(pickle.Dict, 0, min(max(n, 0), 1024))
		for i := 0; i < n; i++ {
			k, err := unpack(dec, r, depth+1)
			if err != nil {
				return nil, err
			}
			v, err := unpack(dec, r, depth+1)
			if err != nil {
				return nil, err
			}
			d = append(d, pickle.Item{Key: k, Value: v})
		}
		return d, nil
	}
	v, err := dec.DecodeInterfaceLoose()
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case uint64:
		if x > 1<<63-1 {
			return new(big.Int).SetUint64(x), nil
		}
		return int64(x), nil
	case float32:
		return float64(x), nil
	case nil, bool, int64, float64:
		return x, nil
	}
	return nil, fmt.Errorf("msgpack type %T has no Python counterpart here", v)
}
