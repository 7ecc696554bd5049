package wire

import "github.com/redis-cache-go/redis-cache-go/core/expiry"

// arenaSize is the size of the blocks MGet carves its small values from (one
// allocation for many values instead of one each).
const arenaSize = 16 << 10

// MGet returns the values of keys in one round trip, aligned with keys; a
// missing key is a nil entry (an empty value is a non-nil empty slice).
func (p *Pool) MGet(keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	var arena []byte
	err := p.MGetEach(keys, func(i int, v []byte) { // small values carved from shared 16 KiB blocks
		n := len(v)
		if n > arenaSize/4 {
			out[i] = append(make([]byte, 0, n), v...)
			return
		}
		if n > cap(arena)-len(arena) || arena == nil { // (nil: an empty first value is not a miss)
			arena = make([]byte, 0, arenaSize)
		}
		start := len(arena)
		arena = append(arena, v...)
		out[i] = arena[start:len(arena):len(arena)]
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SetMany stores keys[i] = values[i], each expiring after ttl when ttl > 0,
// in one round trip: one MSET without a TTL, else pipelined SET ... PX. The
// first error reply, if any, is returned after every reply was read.
func (p *Pool) SetMany(keys []string, values [][]byte, ttl expiry.TTL) error {
	if len(keys) == 0 {
		return nil
	}
	cmd := cmdSet
	if ttl <= 0 {
		cmd = cmdMSet
	}
	r := newReq()
	r.read, r.op, r.count = readSetMany, "SET", len(keys)
	if ttl <= 0 {
		r.op, r.count = "MSET", 1
	}
	err := p.do(cmd, r, func(c *conn) {
		if ttl <= 0 {
			c.argc(2*len(keys) + 1)
			c.arg("MSET")
			for i, k := range keys {
				c.arg(k)
				c.argBytes(values[i])
			}
			return
		}
		for i, k := range keys {
			c.set(k, values[i], ttl, false)
		}
	})
	r.free()
	return err
}

// readSetMany reads r.count replies of SET or MSET; the first error reply
// is returned after all were read.
func readSetMany(c *conn, r *req) (err error) {
	for replies := r.count; replies > 0; replies-- {
		_, e := c.setReply()
		if e != nil && !isServerError(e) {
			return e
		}
		if err == nil {
			err = e
		}
	}
	return err
}

// DelMany removes keys in one DEL and returns how many existed.
func (p *Pool) DelMany(keys []string) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	r := newReq()
	r.read, r.op = readInt, "DEL"
	err := p.do(cmdDel, r, func(c *conn) {
		c.argc(len(keys) + 1)
		c.arg("DEL")
		for _, k := range keys {
			c.arg(k)
		}
	})
	n := r.num
	r.free()
	return n, err
}

// MGetEach runs one MGET of keys and calls each(i, v) for every value found,
// in key order (a missing key gets no call). v aliases the connection's read
// buffer and is valid only during that call: copy it to keep it. A value that
// fits the read buffer costs no allocation. As MGet, the first error reply of
// an element is returned after the whole reply was read; on any error, calls
// already made described a reply that is to be discarded.
func (p *Pool) MGetEach(keys []string, each func(i int, v []byte)) error {
	if len(keys) == 0 {
		return nil
	}
	r := newReq()
	r.read, r.op, r.count, r.each = readMGet, "MGET", len(keys), each
	err := p.do(cmdMGet, r, func(c *conn) {
		c.argc(len(keys) + 1)
		c.arg("MGET")
		for _, k := range keys {
			c.arg(k)
		}
	})
	r.free()
	return err
}

// readMGet reads an MGET reply of r.count values, calling r.each for each
// one found. each runs on whichever goroutine reads the reply (the reader
// role), while the caller waits.
func readMGet(c *conn, r *req) error {
	kind, n, _, err := c.header()
	if err != nil {
		return err
	}
	if kind != kindArray || int(n) != r.count {
		return c.unexpected(kind, n, "MGET")
	}
	var first error
	for i := 0; i < r.count; i++ {
		kind, n, _, err := c.header()
		if err != nil {
			if !isServerError(err) {
				return err
			}
			first = err
			continue
		}
		switch kind {
		case kindNil:
			continue
		case kindBulk:
		default: // a server never answers MGET so: the stream is not what we think
			return errProtocol("MGET item is not a bulk string")
		}
		if n+2 > int64(len(c.rbuf)) { // larger than the read buffer: its own slice
			v, err := c.bulkBody(n)
			if err != nil {
				return err
			}
			r.each(i, v)
			continue
		}
		for int64(c.w-c.r) < n+2 {
			if err := c.fill(); err != nil {
				return err
			}
		}
		end := c.r + int(n)
		if c.rbuf[end] != '\r' || c.rbuf[end+1] != '\n' {
			return errProtocol("bulk reply not followed by CRLF")
		}
		v := c.rbuf[c.r:end:end]
		c.r = end + 2
		r.each(i, v)
	}
	return first
}
