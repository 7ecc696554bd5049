package wire

// GetTTL returns the value at key and its remaining time to live in
// milliseconds as PTTL reports it (-1: no expiry; -2: the key expired
// between the two commands), in one round trip: GET and PTTL are written
// together and both replies are read. found is false for a missing key.
func (p *Pool) GetTTL(key string) (value []byte, pttl int64, found bool, err error) {
	r := newReq()
	r.read, r.op = readGetTTL, "GET"
	err = p.do(cmdGet, r, func(c *conn) { // GET and PTTL: both reads
		c.argc(2)
		c.arg("GET")
		c.arg(key)
		c.argc(2)
		c.arg("PTTL")
		c.arg(key)
	})
	if err == nil && r.ok {
		value, pttl, found = r.val, r.num, true
	}
	r.free()
	return value, pttl, found, err
}

// readGetTTL reads the GET and the PTTL reply; an error reply to GET is
// kept until the PTTL reply is read, so the connection stays in step.
func readGetTTL(c *conn, r *req) error {
	kind, n, _, getErr := c.header()
	switch {
	case getErr != nil && !isServerError(getErr):
		return getErr
	case getErr != nil, kind == kindNil:
	case kind != kindBulk:
		getErr = c.unexpected(kind, n, "GET")
		if !isServerError(getErr) {
			return getErr
		}
	default:
		v, err := c.bulkBody(n)
		if err != nil {
			return err
		}
		r.val, r.ok = v, true
	}
	ttl, err := c.intReply("PTTL")
	if err != nil && !isServerError(err) {
		return err
	}
	if getErr != nil {
		r.val, r.ok = nil, false
		return getErr
	}
	if err != nil {
		r.val, r.ok = nil, false
		return err
	}
	r.num = ttl
	return nil
}
