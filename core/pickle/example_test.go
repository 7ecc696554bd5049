package pickle_test

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/pickle"
)

// Reading what Django cached: pickle.dumps({"user": "ada", "seen":
// datetime.date(2024, 2, 29), "tags": ("a", "b")}, 5).
func ExampleDecode() {
	data, _ := hex.DecodeString("80059549000000000000007d94288c0475736572948c03616461948c047365656e948c0864617465" +
		"74696d65948c0464617465949394430407e8021d94859452948c0474616773948c0161948c0162948694752e")
	v, err := pickle.Decode(data)
	if err != nil {
		panic(err)
	}
	for _, item := range v.(pickle.Dict) {
		fmt.Printf("%v: %v (%s)\n", item.Key, item.Value, pickle.PythonType(item.Value))
	}
	// Output:
	// user: ada (str)
	// seen: 2024-02-29 (datetime.date)
	// tags: [a b] (tuple)
}

// Writing for Django: Python's pickle.loads gives back
// {'when': datetime.datetime(2024, 2, 29, 13, 45, tzinfo=datetime.timezone.utc), 'n': [1, 2]}.
func ExampleEncode() {
	data, err := pickle.Encode(map[string]any{
		"when": time.Date(2024, 2, 29, 13, 45, 0, 0, time.UTC),
		"n":    []int{1, 2},
	})
	back, _ := pickle.Decode(data)
	d := back.(pickle.Dict)
	when, _ := d.Get("when")
	fmt.Println(err, data[:2], when)
	// Output: <nil> [128 4] 2024-02-29 13:45:00 +0000 UTC
}

// Into stores a decoded value in a typed variable, or says why it cannot.
func ExampleInto() {
	var ids []int
	err := pickle.Into(pickle.Tuple{int64(3), int64(5)}, &ids)
	fmt.Println(ids, err)

	var name string
	err = pickle.Into(pickle.Decimal("1.5"), &name)
	fmt.Println(err)
	// Output:
	// [3 5] <nil>
	// pickle: cannot store Python decimal.Decimal in Go string
}
