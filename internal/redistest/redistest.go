// Package redistest starts a real redis-server for a test, on a free
// loopback port, and talks to it on connections of its own (independent of
// the code under test).
package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is a redis-server child process on 127.0.0.1, stopped when the
// test that started it ends.
type Server struct {
	// Addr is "127.0.0.1:port".
	Addr string
}

// Start starts redis-server with extra arguments (e.g. "--maxmemory",
// "1mb"); the test fails when it is not installed or does not come up
// within 30 s.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed; run `make setup` (apt-get install redis-server)")
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("no free port: %v", err)
	}
	dir := t.TempDir()
	args := append([]string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--loglevel", "warning", "--logfile", filepath.Join(dir, "redis.log")}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // dies with the test binary
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond); err == nil {
			c.Close()
			return s
		}
	}
	t.Fatalf("redis-server on %s did not come up", s.Addr)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Do sends one command on a fresh connection and returns the reply: a
// bulk string's payload, "(nil)" for a nil bulk, else the reply's first
// line as sent ("+OK", ":1", "-ERR …", "*2" …).
func (s *Server) Do(t testing.TB, args ...string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", s.Addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatalf("write to %s: %v", s.Addr, err)
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read from %s: %v", s.Addr, err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "$-1" {
		return "(nil)"
	}
	if strings.HasPrefix(line, "$") {
		var n int
		fmt.Sscanf(line[1:], "%d", &n)
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatalf("read bulk from %s: %v", s.Addr, err)
		}
		return string(buf[:n])
	}
	return line
}

// FreeAddr returns a loopback address where nothing listens (connections
// are refused).
func FreeAddr(t testing.TB) string {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("no free port: %v", err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}
