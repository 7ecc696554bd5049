package djcache

import "testing"

// FuzzUnmarshal: the JSON and msgpack readers return a value or an error
// for any input; none panics, hangs or allocates far beyond the input.
func FuzzUnmarshal(f *testing.F) {
	for _, v := range []any{map[string]any{"a": []any{int64(1), "x", 1.5, nil, true}}, []any{[]byte{1, 2}}, "s"} {
		for _, s := range []Serializer{JSON, MsgPack} {
			data, err := s.Marshal(v)
			if err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = JSON.Unmarshal(data)
		_, _ = MsgPack.Unmarshal(data)
	})
}
