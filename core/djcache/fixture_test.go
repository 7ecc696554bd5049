package djcache

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/redis-cache-go/redis-cache-go/core/pickle"
	"github.com/redis-cache-go/redis-cache-go/internal/fixturevalues"
)

type fixtureRecord struct {
	Refused  string `json:"refused"`
	RawHex   string `json:"raw_hex"`
	GetError string `json:"get_error"`
}

type fixtureValue struct {
	Name    string                   `json:"name"`
	Writers map[string]fixtureRecord `json:"writers"`
}

// pickleWriters are the values.json writers that store pickles.
var pickleWriters = []string{
	"seed_default", "seed_pickle2", "seed_zlib", "seed_bz2",
	"django_redis_default", "django_redis_zlib", "django_redis_lzma", "django_builtin",
}

func loadValues(t *testing.T) []fixtureValue {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "tests", "fixtures", "values.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Values []fixtureValue `json:"values"`
	}
	if err := json.Unmarshal(data, &fx); err != nil {
		t.Fatal(err)
	}
	return fx.Values
}

// Every value the pickle-based writers stored decodes to the expected Go
// value, or fails with an *pickle.UnsupportedTypeError naming the Python
// type; where the writer stored bytes its own get() could not read (an
// IntEnum stored as its repr text), Go fails too.
func TestFixtureValuesDecode(t *testing.T) {
	c, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wants := fixturevalues.All()
	decoded, typedErrors, unreadable := 0, 0, 0
	for _, fv := range loadValues(t) {
		want, ok := wants[fv.Name]
		if !ok {
			t.Errorf("%s: no expected Go value; add it to internal/fixturevalues", fv.Name)
			continue
		}
		for _, w := range pickleWriters {
			rec := fv.Writers[w]
			if rec.Refused != "" || rec.RawHex == "" {
				continue // nothing stored, or only its head recorded (the 300 KiB values: see the cross-language test)
			}
			raw, err := hex.DecodeString(rec.RawHex)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Decode(raw)
			var ute *pickle.UnsupportedTypeError
			switch {
			case rec.GetError != "":
				if err == nil {
					t.Errorf("%s/%s: got %#v; want an error (the writer could not read it either: %s)", fv.Name, w, got, rec.GetError)
				}
				unreadable++
			case want.Err != "":
				if !errors.As(err, &ute) || ute.PythonType != want.Err {
					t.Errorf("%s/%s: got %#v, %v; want an UnsupportedTypeError naming %s", fv.Name, w, got, err, want.Err)
				}
				typedErrors++
			case err != nil:
				t.Errorf("%s/%s: got error %v; want %#v", fv.Name, w, err, want.Value)
			case !fixturevalues.Equal(got, want.Value):
				t.Errorf("%s/%s: got %#v; want %#v", fv.Name, w, got, want.Value)
			default:
				decoded++
			}
		}
	}
	t.Logf("%d decoded, %d typed errors, %d unreadable as in the writer itself", decoded, typedErrors, unreadable)
	if decoded < 380 {
		t.Errorf("got %d decoded values; want at least 380", decoded)
	}
}
