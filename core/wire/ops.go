package wire

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"

	"github.com/redis-cache-go/redis-cache-go/core/expiry"
)

// The commands as retry.Resendable sees them when Pool.do decides on a
// resend: the name, and for SET the options that matter (key and value are
// placeholders). EVALSHA is never resent: the script may write.
var (
	cmdGet    = []any{"GET"}
	cmdSet    = []any{"SET", "", ""}
	cmdSetNX  = []any{"SET", "", "", "NX"}
	cmdDel    = []any{"DEL"}
	cmdExists = []any{"EXISTS"}
	cmdMGet   = []any{"MGET"}
	cmdMSet   = []any{"MSET"}
)

// Get returns the value at key; found is false for a missing key.
func (p *Pool) Get(key string) (value []byte, found bool, err error) {
	r := newReq()
	r.read, r.op = readGet, "GET"
	err = p.do(cmdGet, r, func(c *conn) {
		c.argc(2)
		c.arg("GET")
		c.arg(key)
	})
	value, found = r.val, r.ok
	r.free()
	return value, found, err
}

func readGet(c *conn, r *req) error {
	kind, n, _, err := c.header()
	switch {
	case err != nil:
		return err
	case kind == kindNil:
		return nil
	case kind != kindBulk:
		return c.unexpected(kind, n, "GET")
	}
	r.val, err = c.bulkBody(n)
	r.ok = err == nil
	return err
}

// unexpected skips a reply of the wrong type and reports it.
func (c *conn) unexpected(kind int, n int64, op string) error {
	if err := c.skip(kind, n); err != nil {
		return err
	}
	return ServerError("unexpected reply type to " + op)
}

// Set stores value at key, expiring after ttl (millisecond precision, at
// least 1 ms) when ttl > 0. With onlyIfMissing (NX) an existing key is left
// alone and stored is false.
func (p *Pool) Set(key string, value []byte, ttl expiry.TTL, onlyIfMissing bool) (stored bool, err error) {
	cmd := cmdSet
	if onlyIfMissing {
		cmd = cmdSetNX
	}
	r := newReq()
	r.read, r.op = readSet, "SET"
	err = p.do(cmd, r, func(c *conn) { c.set(key, value, ttl, onlyIfMissing) })
	stored = r.ok
	r.free()
	return stored, err
}

func readSet(c *conn, r *req) (err error) {
	r.ok, err = c.setReply()
	return err
}

func (c *conn) set(key string, value []byte, ttl expiry.TTL, nx bool) {
	n := 3
	if ttl > 0 {
		n += 2
	}
	if nx {
		n++
	}
	c.argc(n)
	c.arg("SET")
	c.arg(key)
	c.argBytes(value)
	if ttl > 0 {
		c.arg("PX")
		c.argInt(int64(ttl))
	}
	if nx {
		c.arg("NX")
	}
}

func (c *conn) setReply() (bool, error) {
	kind, n, _, err := c.header()
	switch {
	case err != nil:
		return false, err
	case kind == kindNil:
		return false, nil
	case kind == kindStatus:
		return true, nil
	}
	return false, c.unexpected(kind, n, "SET")
}

// intCommand sends cmd's name and key and reads an integer reply.
func (p *Pool) intCommand(cmd []any, key string) (v int64, err error) {
	name := cmd[0].(string)
	r := newReq()
	r.read, r.op = readInt, name
	err = p.do(cmd, r, func(c *conn) {
		c.argc(2)
		c.arg(name)
		c.arg(key)
	})
	v = r.num
	r.free()
	return v, err
}

func readInt(c *conn, r *req) (err error) {
	r.num, err = c.intReply(r.op)
	return err
}

func (c *conn) intReply(op string) (int64, error) {
	kind, n, _, err := c.header()
	if err != nil {
		return 0, err
	}
	if kind != kindInt {
		return 0, c.unexpected(kind, n, op)
	}
	return n, nil
}

// Del removes key and reports whether it existed.
func (p *Pool) Del(key string) (bool, error) {
	n, err := p.intCommand(cmdDel, key)
	return n > 0, err
}

// Exists reports whether key exists.
func (p *Pool) Exists(key string) (bool, error) {
	n, err := p.intCommand(cmdExists, key)
	return n > 0, err
}

// Script is a Lua script sent by its SHA1 (EVALSHA), and in full only when
// the server does not know it yet.
type Script struct {
	src, sha string
}

// NewScript returns the Script for src.
func NewScript(src string) *Script {
	h := sha1.Sum([]byte(src))
	return &Script{src: src, sha: hex.EncodeToString(h[:])}
}

// EvalInt runs s with one key and one integer argument and returns its
// integer reply; found is false when the script returned nil (false). It is
// never sent twice: after a broken connection the caller gets the error.
func (p *Pool) EvalInt(s *Script, key string, arg int64) (v int64, found bool, err error) {
	v, found, err = p.eval("EVALSHA", s.sha, key, arg)
	if se, ok := err.(ServerError); ok && strings.HasPrefix(string(se), "NOSCRIPT") {
		v, found, err = p.eval("EVAL", s.src, key, arg)
	}
	return v, found, err
}

func (p *Pool) eval(cmd, script, key string, arg int64) (int64, bool, error) {
	r := newReq()
	r.read, r.op = readEval, cmd
	err := p.do(nil, r, func(c *conn) {
		c.argc(5)
		c.arg(cmd)
		c.arg(script)
		c.arg("1")
		c.arg(key)
		c.argInt(arg)
	})
	v, found := r.num, r.ok
	r.free()
	return v, found, err
}

func readEval(c *conn, r *req) error {
	kind, n, _, err := c.header()
	switch {
	case err != nil:
		return err
	case kind == kindNil:
		return nil
	case kind == kindInt:
		r.num, r.ok = n, true
		return nil
	}
	return c.unexpected(kind, n, r.op)
}
