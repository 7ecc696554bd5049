// Package gotests holds the Go tests that need real parts: a real
// redis-server started here on a free loopback port, and the C library
// exercised through its hand-written header.
package gotests

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// redisServer is a real redis-server child process on 127.0.0.1.
type redisServer struct {
	Addr string
	cmd  *exec.Cmd
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("no free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRedis starts redis-server with extra arguments and stops it when the
// test ends.
func startRedis(t testing.TB, extra ...string) *redisServer {
	t.Helper()
	return startRedisOn(t, freePort(t), extra...)
}

// startRedisOn is startRedis on a given port.
func startRedisOn(t testing.TB, port int, extra ...string) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed; run `make setup` (apt-get install redis-server)")
	}
	dir := t.TempDir()
	args := append([]string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
		"--loglevel", "warning", "--logfile", filepath.Join(dir, "redis.log")}, extra...)
	cmd := exec.Command(bin, args...)
	// If this test binary dies, the server dies with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	s := &redisServer{Addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond); err == nil {
			c.Close()
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("redis-server on %s did not come up", s.Addr)
	return nil
}

// do sends one command on a fresh connection (independent of the code under
// test) and returns the raw first reply line, plus the bulk payload if any.
func (s *redisServer) do(t *testing.T, args ...string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", s.Addr, err)
	}
	defer c.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		t.Fatalf("write: %v", err)
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "$") && line != "$-1" {
		var n int
		fmt.Sscanf(line[1:], "%d", &n)
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatalf("read bulk: %v", err)
		}
		return string(buf[:n])
	}
	return line
}

// silent is a server that accepts connections and never answers.
type silent struct {
	Addr    string
	mu      sync.Mutex
	conns   []net.Conn
	markers map[string]bool // local addresses of accepted's own connections
}

// silentServer accepts connections and never answers.
func silentServer(t *testing.T) string { return newSilent(t).Addr }

func newSilent(t *testing.T) *silent {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silent{Addr: l.Addr().String(), markers: map[string]bool{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range s.conns {
			c.Close()
		}
	})
	return s
}

// accepted returns how many connections clients opened to s, counting
// every one dialled before the call: it dials a marker connection and waits
// until s has accepted it (the listen queue is first in, first out).
func (s *silent) accepted(t *testing.T) int {
	t.Helper()
	m, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	marker := m.LocalAddr().String()
	s.mu.Lock()
	s.markers[marker] = true
	s.mu.Unlock()
	n := -1
	waitFor(t, "the silent server accepts its marker connection", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		clients := 0
		for _, c := range s.conns {
			peer := c.RemoteAddr().String()
			if peer == marker {
				n = clients
				return true
			}
			if !s.markers[peer] {
				clients++
			}
		}
		return false
	})
	return n
}

// refusedAddr is a loopback address where nothing listens.
func refusedAddr(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", freePort(t))
}

// repoRoot is the module root (tests/go is two levels down).
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}
