package respguard

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/redis-cache-go/redis-cache-go/internal/hostile"
)

// fakeConn is a net.Conn reading from r in chunks of random sizes.
type fakeConn struct {
	net.Conn // nil: only Read is used
	r        io.Reader
	rng      *rand.Rand
}

func (f *fakeConn) Read(p []byte) (int, error) {
	if f.rng != nil && len(p) > 1 {
		p = p[:1+f.rng.IntN(len(p))]
	}
	return f.r.Read(p)
}

// readAll reads c to its end with reads of random sizes.
func readAll(c net.Conn, rng *rand.Rand) ([]byte, error) {
	var out []byte
	buf := make([]byte, 70000)
	for {
		n, err := c.Read(buf[:1+rng.IntN(len(buf))])
		out = append(out, buf[:n]...)
		if err != nil {
			return out, err
		}
	}
}

// validReplies is a stream of replies of every kind a server sends.
func validReplies(rng *rand.Rand) string {
	var sb strings.Builder
	var reply func(depth int)
	reply = func(depth int) {
		switch k := rng.IntN(12); {
		case k == 0:
			sb.WriteString("+OK\r\n")
		case k == 1:
			sb.WriteString("-ERR wrong\r\n")
		case k == 2:
			sb.WriteString(":" + strconv.Itoa(rng.IntN(1e9)-5e8) + "\r\n")
		case k == 3:
			sb.WriteString("$-1\r\n")
		case k == 4:
			sb.WriteString("_\r\n,1.5\r\n#t\r\n(123456789012345678901234567890\r\n")
		case k == 5 && depth < 6:
			n := rng.IntN(5)
			sb.WriteString("*" + strconv.Itoa(n) + "\r\n")
			for range n {
				reply(depth + 1)
			}
		case k == 6 && depth < 6:
			n := rng.IntN(3)
			sb.WriteString("%" + strconv.Itoa(n) + "\r\n")
			for range 2 * n {
				reply(depth + 1)
			}
		case k == 7 && depth < 6:
			sb.WriteString("|1\r\n+key\r\n:1\r\n")
			reply(depth)
		case k == 8:
			sb.WriteString("*-1\r\n")
		default:
			n := []int{0, 1, 100, 40000, 0, 1, 100, 40000, 1200 << 10}[rng.IntN(9)]
			sb.WriteString("$" + strconv.Itoa(n) + "\r\n" + strings.Repeat("v\r\n\n", n/4+1)[:n] + "\r\n")
		}
	}
	for range 60 {
		reply(0)
	}
	return sb.String()
}

func TestValidRepliesPassUnchangedWhateverTheReadSizes(t *testing.T) {
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(seed, seed))
		in := validReplies(rng)
		c := Wrap(&fakeConn{r: strings.NewReader(in), rng: rng})
		got, err := readAll(c, rng)
		if err != io.EOF || !bytes.Equal(got, []byte(in)) {
			t.Fatalf("seed %d: read %d of %d bytes, error %v; want them all unchanged, then EOF", seed, len(got), len(in), err)
		}
	}
}

func TestHostileRepliesFailTheRead(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    io.Reader
	}{
		{"20M nested arrays", io.LimitReader(&hostile.Endless{Chunk: "*1\r\n"}, 80_000_000)},
		{"nested maps", &hostile.Endless{Chunk: "%1\r\n+k\r\n"}},
		{"bulk above 512 MiB", strings.NewReader("$536870913\r\n")},
		{"bulk length overflowing int64", strings.NewReader("$9999999999999999999\r\n")},
		{"array above 512 Mi items three deep", strings.NewReader("*1\r\n*1\r\n*999999999\r\n")},
		{"bulk above 512 MiB three deep", strings.NewReader("*1\r\n*1\r\n*1\r\n$9999999999\r\n")},
		{"negative length", strings.NewReader("$-2\r\n")},
		{"no length", strings.NewReader("*\r\n")},
		{"line without CR", strings.NewReader("+OK\n")},
		{"unknown type", strings.NewReader("?x\r\n")},
		{"endless line", &hostile.Endless{Head: "+", Chunk: "aaaaaaaa"}},
		{"endless header", &hostile.Endless{Head: "$", Chunk: "00000000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			got, err := readAll(Wrap(&fakeConn{r: tc.r}), rng)
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("got %v; want a protocol error", err)
			}
			if len(got) > 1<<10 {
				t.Fatalf("returned %d bytes before failing; want only the lines before the bad one", len(got))
			}
		})
	}
}

func TestHeadersAreHeldUntilTheirPayloadArrives(t *testing.T) {
	for _, tc := range []struct {
		name, head string
		sent       int
		want       string // returned before the end of the input
	}{
		{"500 MiB bulk, 100 KiB sent", "$524288000\r\n", 100 << 10, ""},
		{"500 MiB bulk in an array, 100 KiB sent", "*2\r\n$1\r\na\r\n$524288000\r\n", 100 << 10, "*2\r\n$1\r\na\r\n"},
		{"100 Mi-item array, 100 KiB sent", "*100000000\r\n", 100 << 10, ""},
		{"nested arrays each declaring 1 Mi items", strings.Repeat("*1048576\r\n", 20), 100 << 10, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := io.MultiReader(strings.NewReader(tc.head), strings.NewReader(strings.Repeat(":1\r\n", tc.sent/4)))
			got, err := readAll(Wrap(&fakeConn{r: in}), rand.New(rand.NewPCG(3, 4)))
			if err != io.EOF || !strings.HasPrefix(tc.head, string(got)) || len(got) > len(tc.want) {
				t.Fatalf("returned %q, %v; want %q, then EOF (the header held)", got, err, tc.want)
			}
		})
	}
	// A large value that does arrive is held only until a sixteenth of it is
	// there, and then passes whole.
	big := "$" + strconv.Itoa(64<<20) + "\r\n" + strings.Repeat("x", 64<<20) + "\r\n"
	got, err := readAll(Wrap(&fakeConn{r: strings.NewReader(big)}), rand.New(rand.NewPCG(5, 6)))
	if err != io.EOF || string(got) != big {
		t.Fatalf("a 64 MiB bulk: read %d of %d bytes, %v", len(got), len(big), err)
	}
}

func TestReadErrorsPassThrough(t *testing.T) {
	c := Wrap(&fakeConn{r: io.MultiReader(strings.NewReader("+OK\r\n+PA"), &failing{})})
	got, err := readAll(c, rand.New(rand.NewPCG(7, 8)))
	var ne net.Error
	if string(got) != "+OK\r\n" || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("got %q, %v; want the complete line, then the timeout", got, err)
	}
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, timeoutErr{} }

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestWrapOffersTheSocketOnlyWhenNothingIsHeld(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	sc, ok := Wrap(raw).(syscall.Conn)
	if !ok {
		t.Fatalf("Wrap of a TCP connection is not a syscall.Conn; want one, for pool health checks")
	}
	if _, err := sc.SyscallConn(); err != nil {
		t.Fatalf("SyscallConn with nothing held: %v", err)
	}
	held := &fdConn{Conn{Conn: raw, buf: []byte("+PART"), w: 5}} // an incomplete line kept back
	if _, err := held.SyscallConn(); err == nil {
		t.Fatalf("SyscallConn while reply bytes are held: got no error; want one (the connection is not idle)")
	}
	if _, ok := Wrap(&fakeConn{r: strings.NewReader("")}).(syscall.Conn); ok {
		t.Fatalf("Wrap of a connection without a descriptor offers one")
	}
}
