package djcache

import (
	"crypto/tls"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/ring"
)

// DefaultDB is the database a LOCATION entry without one selects: 1, as in
// django-redis-cache, so a Go service finds what the Django site cached.
const DefaultDB = 1

// MaxDB is the largest database number a LOCATION entry or Options.DB may
// name (Redis' databases setting is an int).
const MaxDB = 1<<31 - 1

const defaultPort = 6379

// The parsing rules below are python/redis_cache_go/_settings.py's too:
// tests/fixtures/locations.json holds the cases both test suites check
// (location_fixture_test.go, tests/python/test_locations.py).
const space = " \t\n\r\v\f" // around an entry: ignored

var (
	hostName   = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	digits     = regexp.MustCompile(`^[0-9]+$`)
	decimal    = regexp.MustCompile(`^(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$`)
	badEscape  = regexp.MustCompile(`%([^0-9A-Fa-f]|.[^0-9A-Fa-f]|.?$)`)
	clusterURL = []string{"redis+cluster://", "rediss+cluster://"}
)

// urlQuery are the LOCATION query parameters read here; messages mask the
// values of any other (a URL copied from redis-py may carry ?password=).
var urlQuery = map[string]bool{"db": true, "socket_timeout": true, "socket_connect_timeout": true, "ssl_cert_reqs": true}

// SplitLocation splits a LOCATION string on commas without trimming
// spaces, as django-redis-cache did: "a:1, b:2" gives "a:1" and " b:2",
// and the space stays in the second server's ring node name (the host
// itself is trimmed before connecting).
func SplitLocation(location string) []string { return strings.Split(location, ",") }

// server is one LOCATION entry as the Python package parses it
// (python/redis_cache_go/_settings.py): its connection options and its
// seed-ring node name.
type server struct {
	opts    client.Options
	name    string
	dbInURL bool // the URL named the database (/db or ?db=)
}

// location is a whole LOCATION: its servers, or one Redis Cluster whose
// seed nodes the entries are (redis+cluster://, rediss+cluster://).
type location struct {
	servers []server
	cluster bool
}

// parseLocation reads every entry of a LOCATION (split already). db and
// password are the defaults from Options.
func parseLocation(entries []string, db int, password string) (location, error) {
	shown := func() string {
		r := make([]string, len(entries))
		for i, e := range entries {
			r[i] = redact(e)
		}
		return fmt.Sprintf("%q", r)
	}
	if len(entries) == 0 {
		return location{}, fmt.Errorf("djcache: LOCATION %s: needs at least one server entry", shown())
	}
	clusters := 0
	for _, e := range entries {
		if strings.Trim(e, space) == "" {
			return location{}, fmt.Errorf("djcache: LOCATION %s: has an empty server entry", shown())
		}
		if isClusterURL(e) {
			clusters++
		}
	}
	if clusters > 0 && clusters < len(entries) {
		return location{}, fmt.Errorf("djcache: LOCATION %s: mixes redis+cluster:// entries with others", shown())
	}
	loc := location{cluster: clusters > 0}
	for _, e := range entries {
		if loc.cluster { // rediss+cluster://h:p -> rediss://h:p
			e = strings.Trim(e, space)
			scheme, rest, _ := strings.Cut(e, "://")
			e = strings.TrimSuffix(strings.ToLower(scheme), "+cluster") + "://" + rest
		}
		s, err := parseEntry(e, db, password)
		if err != nil {
			return location{}, err
		}
		if loc.cluster {
			if s.dbInURL && s.opts.DB != 0 { // redis+cluster://host:port/3 would silently be db 0
				return location{}, fmt.Errorf("djcache: LOCATION entry %q: a Redis Cluster has only database 0", redact(e))
			}
			s.opts.DB = 0
		}
		loc.servers = append(loc.servers, s)
	}
	return loc, nil
}

func isClusterURL(entry string) bool {
	e := strings.ToLower(strings.Trim(entry, space))
	for _, scheme := range clusterURL {
		if strings.HasPrefix(e, scheme) {
			return true
		}
	}
	return false
}

// parseEntry reads one LOCATION entry: host:port, [v6]:port, a bare host,
// a socket path, or a redis://, rediss:// or unix:// URL. db and password
// are the defaults from Options (a URL's own password wins).
func parseEntry(entry string, db int, password string) (server, error) {
	text := strings.Trim(entry, space)
	if strings.IndexFunc(text, isControl) >= 0 {
		return server{}, fmt.Errorf("djcache: LOCATION entry %q: contains a control character", redact(entry))
	}
	if strings.Contains(entry, "://") {
		return parseURL(entry, text, db, password)
	}
	var host, port string
	switch {
	case strings.HasPrefix(text, "[") && strings.Contains(text, "]:"):
		host, port, _ = strings.Cut(text[1:], "]:")
		if !strings.Contains(host, ":") {
			return server{}, fmt.Errorf("djcache: LOCATION entry %q: %q is not a host name or an IP address (brackets are for IPv6 addresses)", redact(entry), host)
		}
	case strings.Contains(strings.SplitN(entry, "/", 2)[0], "@"): // user:password@host without redis://
		return server{}, errCredentials(entry)
	case strings.Contains(entry, ":"):
		i := strings.LastIndexByte(entry, ':')
		host, port = entry[:i], entry[i+1:]
	case strings.Contains(entry, "/"):
		o := client.Options{Network: "unix", Addr: entry, DB: db, Password: password}
		return server{opts: o, name: ring.Identifier(nil, nil, db, &entry)}, nil
	default: // a bare name: a host on the default port
		host, port = entry, strconv.Itoa(defaultPort)
	}
	if strings.Contains(host, "@") { // "//user:password@:port" and the like
		return server{}, errCredentials(entry)
	}
	p, err := parsePort(entry, port)
	if err != nil {
		return server{}, err
	}
	h, err := checkHost(entry, host)
	if err != nil {
		return server{}, err
	}
	if strings.HasPrefix(text, "[") {
		host = h // the ring names [::1]:6379 by the address
	}
	o := client.Options{Network: "tcp", Addr: joinHostPort(h, p), DB: db, Password: password}
	return server{opts: o, name: ring.Identifier(&host, &p, db, nil)}, nil // the host as written names the ring node
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// errCredentials refuses an entry that looks like credentials written
// before a host without a URL scheme (a host name has no '@').
func errCredentials(entry string) error {
	return fmt.Errorf("djcache: LOCATION entry %q: a host name has no '@': write credentials in a URL, "+
		"redis://user:password@host:port/db, or in Options.Password", redact(entry))
}

// checkHost returns the host (spaces around it ignored) if it is a host
// name or an IP address.
func checkHost(entry, host string) (string, error) {
	name := strings.Trim(host, space)
	if hostName.MatchString(name) || strings.Contains(name, ":") && isIPv6(name) {
		return name, nil
	}
	why := fmt.Sprintf("%q is not a host name or an IP address", name)
	if strings.Contains(name, ";") {
		why += " (separate servers with ',')"
	} else if i := strings.LastIndexByte(name, ':'); i >= 0 && digits.MatchString(name[i+1:]) {
		why += " (host:port:db is no LOCATION form: write redis://host:port/db)"
	}
	return "", fmt.Errorf("djcache: LOCATION entry %q: %s", redact(entry), why)
}

func isIPv6(name string) bool {
	if _, zone, ok := strings.Cut(name, "%"); ok && !hostName.MatchString(zone) {
		return false // a zone is an interface name: fe80::1%eth0
	}
	a, err := netip.ParseAddr(name)
	return err == nil && a.Is6()
}

func parsePort(entry, text string) (int, error) {
	text = strings.Trim(text, space)
	p, err := strconv.Atoi(text)
	if !digits.MatchString(text) || err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("djcache: LOCATION entry %q: the port must be a number between 1 and 65535", redact(entry))
	}
	return p, nil
}

// parseDB reads a database number: ASCII digits, 0 to MaxDB.
func parseDB(text string) (int, bool) {
	n, err := strconv.Atoi(text)
	return n, digits.MatchString(text) && err == nil && n <= MaxDB
}

// joinHostPort trims the host (a space after a comma names a ring node, not
// a host) and brackets an IPv6 address.
func joinHostPort(host string, port int) string {
	host = strings.TrimSpace(host)
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}

// parseURL reads a redis://, rediss:// or unix:// entry (text: the entry
// without the spaces around it) as redis-py's from_url reads it
// (percent-escapes decoded in the user name, password, path and IPv6 zone),
// refusing what from_url would drop.
func parseURL(entry, text string, db int, password string) (server, error) {
	bad := func(why string) (server, error) {
		return server{}, fmt.Errorf("djcache: LOCATION entry %q: %s", redact(entry), why)
	}
	notURL := func(why string) (server, error) { return bad("not a valid URL (" + why + ")") }
	const schemes = "the scheme must be redis://, rediss://, unix://, redis+cluster:// or rediss+cluster://"
	switch name, _, _ := strings.Cut(text, "://"); strings.ToLower(name) {
	case "redis", "rediss", "unix": // not "redis::://h", which would parse as an opaque URL
	default:
		return bad(schemes)
	}
	switch {
	case strings.IndexFunc(text, unicode.IsSpace) >= 0:
		return notURL("a space must be percent-encoded as %20")
	case strings.Contains(text, "#"):
		return notURL("a '#' must be percent-encoded as %23")
	case badEscape.MatchString(text):
		return notURL("a '%' must start an escape such as %40")
	}
	u, err := url.Parse(text) // its error would show the password: not returned
	if err != nil {
		return notURL("it does not parse")
	}
	// the host and the path as written (url.Parse decodes them)
	_, authority, _ := strings.Cut(text, "://")
	rawPath := ""
	if i := strings.IndexAny(authority, "/?"); i >= 0 {
		authority, rawPath = authority[:i], authority[i:]
	}
	rawPath, _, _ = strings.Cut(rawPath, "?")
	rawHost := authority[strings.LastIndexByte(authority, '@')+1:]
	if bracketed := strings.HasPrefix(rawHost, "[") && strings.Contains(rawHost, "]"); !bracketed && strings.ContainsAny(rawHost, "[]%") {
		return notURL("it does not parse") // only an IPv6 zone is percent-encoded; "cache]host"
	}
	scheme := u.Scheme // lower-cased by url.Parse
	if strings.Contains(rawPath, "@") || strings.Contains(u.RawQuery, "@") {
		return notURL("percent-encode '/', '?', '#' and '@' in a user name or password")
	}
	if !strings.HasPrefix(u.Host, "[") && strings.Count(u.Host, ":") > 1 { // host:6379:6380
		return notURL("the port is not a number")
	}
	if strings.Contains(u.RawQuery, ";") {
		return notURL("query parameters are separated by '&'")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return notURL("the query does not parse")
	}
	query := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		v := q[name]
		if !urlQuery[name] {
			return bad(fmt.Sprintf("unsupported query parameter %q (supported: db, socket_connect_timeout, socket_timeout, ssl_cert_reqs)", name))
		}
		query[name] = strings.Trim(v[len(v)-1], space) // the last one wins
	}
	o := client.Options{Password: password} // as redis-py's from_url: the URL's own wins
	if u.User != nil {
		o.Username = u.User.Username()
		if p, _ := u.User.Password(); p != "" { // an empty one is none: OPTIONS' applies
			o.Password = p
		}
	}
	verify := true
	if v, ok := query["ssl_cert_reqs"]; ok {
		switch strings.ToLower(v) {
		case "none":
			verify = false
		case "optional", "required":
		default:
			return bad(fmt.Sprintf("?ssl_cert_reqs = %q: must be 'none', 'optional' or 'required'", v))
		}
	}
	for _, t := range []struct {
		name string
		dst  *time.Duration
	}{{"socket_timeout", &o.ReadTimeout}, {"socket_connect_timeout", &o.DialTimeout}} { // as Python checks them
		name, dst := t.name, t.dst
		if v, ok := query[name]; ok {
			secs, err := strconv.ParseFloat(v, 64)
			ns := secs * float64(time.Second)
			// at least a nanosecond and less than 2**63 of them (a time.Duration)
			if !decimal.MatchString(v) || err != nil || !(ns >= 1 && ns < math.Exp2(63)) {
				return bad(fmt.Sprintf("?%s = %q: must be a positive number of seconds", name, v))
			}
			*dst = time.Duration(ns)
		}
	}
	dbInURL := false
	if v, ok := query["db"]; ok {
		if db, ok = parseDB(v); !ok {
			return bad(fmt.Sprintf("?db = %q: must be an integer from 0 to %d", v, MaxDB))
		}
		dbInURL = true
	}
	if scheme == "unix" {
		if u.Host != "" {
			return bad("a unix:// URL has no host: write unix:///path/to/redis.sock")
		}
		if u.Path == "" {
			return bad("a unix:// URL needs a socket path")
		}
		o.Network, o.Addr, o.DB = "unix", u.Path, db
		host, port, path := "127.0.0.1", defaultPort, u.Path // the seed's pool defaults
		return server{opts: o, name: ring.Identifier(&host, &port, db, &path), dbInURL: dbInURL}, nil
	}
	if path := strings.TrimLeft(u.Path, "/"); path != "" && !dbInURL {
		if db, dbInURL = parseDB(path); !dbInURL {
			return bad(fmt.Sprintf("the database %q must be an integer from 0 to %d", path, MaxDB))
		}
	}
	port := defaultPort
	if p := u.Port(); p != "" {
		if port, err = parsePort(entry, p); err != nil {
			return server{}, err
		}
	}
	host, zone, _ := strings.Cut(u.Hostname(), "%")
	host = strings.ToLower(host) // not the zone: an interface name
	if zone != "" {
		host += "%" + zone
	}
	if host == "" {
		host = "localhost"
	} else if _, err := checkHost(entry, host); err != nil {
		return server{}, err
	}
	o.Network, o.Addr, o.DB = "tcp", joinHostPort(host, port), db
	if scheme == "rediss" {
		o.TLS = &tls.Config{ServerName: host, InsecureSkipVerify: !verify}
		return server{opts: o, name: ring.Identifier(&host, &port, db, nil), dbInURL: dbInURL}, nil
	}
	empty := ""
	return server{opts: o, name: ring.Identifier(&host, &port, db, &empty), dbInURL: dbInURL}, nil
}

// redact hides a URL's password in messages (also of user:password@host
// written without a scheme), and the value of every query parameter but
// the known ones. _secrets.redact_url does the same in Python.
func redact(entry string) string {
	prefix, rest := "", entry
	scheme, after, isURL := strings.Cut(entry, "://")
	if isURL {
		prefix, rest = scheme+"://", after
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		if user, _, hasPass := strings.Cut(rest[:at], ":"); hasPass {
			rest = user + ":***@" + rest[at+1:]
		}
	}
	if head, query, ok := strings.Cut(rest, "?"); isURL && ok {
		params := strings.Split(query, "&")
		for i, p := range params {
			params[i] = redactParam(p)
		}
		rest = head + "?" + strings.Join(params, "&")
	}
	return prefix + rest
}

func redactParam(param string) string {
	name, value, _ := strings.Cut(param, "=")
	if value == "" {
		return param
	}
	if n, err := url.QueryUnescape(name); err == nil && urlQuery[n] {
		return param
	}
	// a quote ends the value: the entry may be quoted inside a message
	if i := strings.IndexAny(value, `'"`); i >= 0 {
		return name + "=***" + value[i:]
	}
	return name + "=***"
}
