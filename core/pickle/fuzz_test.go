package pickle

import (
	"testing"
	"time"
)

// FuzzDecode: any input decodes or fails with an error; none panics or
// hangs, and whatever decodes encodes again.
func FuzzDecode(f *testing.F) {
	for _, v := range []any{nil, int64(1), "s", []byte{1}, Tuple{int64(1), "a"}, Dict{{Key: "k", Value: []any{1.5}}},
		Set{int64(1)}, time.Date(2024, 2, 29, 1, 2, 3, 0, time.UTC), Date{Year: 2024, Month: 1, Day: 1}, time.Second,
		Decimal("1.5"), UUID{1}, complex(1, 2)} {
		data, err := Encode(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("\x80\x02cdatetime\ndate\nq\x00c_codecs\nencode\nq\x01X\x04\x00\x00\x00\x07\xc3\xa8\x02\x1dq\x02X\x06\x00\x00\x00latin1q\x03\x86q\x04Rq\x05\x85q\x06Rq\x07."))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Decode(data)
		if err != nil {
			return
		}
		if _, err := Encode(v); err != nil {
			t.Errorf("decoded %#v but cannot encode it again: %v", v, err)
		}
	})
}
