package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// monitor is the measuring connection: INFO on a connection of its own,
// outside every client under test (it counts itself in connected_clients).
type monitor struct {
	mu sync.Mutex
	c  net.Conn
	r  *bufio.Reader
}

func dialMonitor(addr string) (*monitor, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &monitor{c: c, r: bufio.NewReader(c)}, nil
}

// command sends args and returns the reply as text (a status, an integer
// or a bulk string; nothing else is asked for).
func (m *monitor) command(args ...string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	_ = m.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(m.c, b.String()); err != nil {
		return "", err
	}
	line, err := m.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty reply line")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("server: %s", line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("bad bulk header %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(m.r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

// info returns one field of INFO section as an integer or a string.
func (m *monitor) info(section, field string) (string, error) {
	text, err := m.command("INFO", section)
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(text, "\r\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("INFO %s has no %s", section, field)
}

func (m *monitor) infoInt(section, field string) (int64, error) {
	v, err := m.info(section, field)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}

// connected is INFO clients connected_clients (the monitor included).
func (m *monitor) connected() int64 {
	n, err := m.infoInt("clients", "connected_clients")
	if err != nil {
		fatalf("INFO clients: %v", err)
	}
	return n
}

// accepted is INFO stats total_connections_received: connections ever
// accepted, so a difference counts the dials in between.
func (m *monitor) accepted() int64 {
	n, err := m.infoInt("stats", "total_connections_received")
	if err != nil {
		fatalf("INFO stats: %v", err)
	}
	return n
}

// settled waits until connected_clients stops falling (connections that
// clients closed a moment ago are gone from the server's count) and
// returns it.
func (m *monitor) settled() int64 {
	prev := m.connected()
	for i := 0; i < 100; i++ {
		time.Sleep(20 * time.Millisecond)
		n := m.connected()
		if n == prev {
			return n
		}
		prev = n
	}
	return prev
}

func (m *monitor) close() { _ = m.c.Close() }
