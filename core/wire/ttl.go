package wire

// GetTTL returns the value at key and its remaining time to live in
// milliseconds as PTTL reports it (-1: no expiry; -2: the key expired
// between the two commands), in one round trip: GET and PTTL are written
// together and both replies are read. found is false for a missing key.
func (p *Pool) GetTTL(key string) (value []byte, pttl int64, found bool, err error) {
	err = p.do(cmdGet, func(c *conn) (err error) { // GET and PTTL: both reads
		value, pttl, found, err = p.getTTL(c, key)
		return err
	})
	return value, pttl, found, err
}

func (p *Pool) getTTL(c *conn, key string) ([]byte, int64, bool, error) {
	c.argc(2)
	c.arg("GET")
	c.arg(key)
	c.argc(2)
	c.arg("PTTL")
	c.arg(key)
	if err := p.roundTrip(c); err != nil {
		return nil, 0, false, err
	}
	// The GET reply; an error reply is kept until the PTTL reply is read,
	// so the connection stays in step and can be reused.
	var v []byte
	found := false
	kind, n, _, getErr := c.header()
	switch {
	case getErr != nil && !isServerError(getErr):
		return nil, 0, false, getErr
	case getErr != nil, kind == kindNil:
	case kind != kindBulk:
		getErr = c.unexpected(kind, n, "GET")
		if !isServerError(getErr) {
			return nil, 0, false, getErr
		}
	default:
		var err error
		if v, err = c.bulkBody(n); err != nil {
			return nil, 0, false, err
		}
		found = true
	}
	ttl, err := c.intReply("PTTL")
	if err != nil && !isServerError(err) {
		return nil, 0, false, err
	}
	if getErr != nil {
		return nil, 0, false, getErr
	}
	if err != nil {
		return nil, 0, false, err
	}
	if !found {
		return nil, 0, false, nil
	}
	return v, ttl, true, nil
}
