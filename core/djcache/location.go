package djcache

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/ring"
)

// DefaultDB is the database a LOCATION entry without one selects: 1, as in
// django-redis-cache, so a Go service finds what the Django site cached.
const DefaultDB = 1

const defaultPort = 6379

// SplitLocation splits a LOCATION string on commas without trimming
// spaces, as django-redis-cache did: "a:1, b:2" gives "a:1" and " b:2",
// and the space stays in the second server's ring node name (the host
// itself is trimmed before connecting).
func SplitLocation(location string) []string { return strings.Split(location, ",") }

// server is one LOCATION entry as the Python package parses it
// (python/redis_cache_go/_settings.py): its connection options and its
// seed-ring node name.
type server struct {
	opts client.Options
	name string
}

// parseEntry reads one LOCATION entry: host:port, [v6]:port, a bare host,
// a socket path, or a redis://, rediss:// or unix:// URL. db and password
// are the defaults from Options (a URL's own password wins).
func parseEntry(entry string, db int, password string) (server, error) {
	if strings.Contains(entry, "://") {
		return parseURL(entry, db, password)
	}
	var host, port string
	switch {
	case strings.HasPrefix(entry, "[") && strings.Contains(entry, "]:"):
		host, port, _ = strings.Cut(entry[1:], "]:")
	case strings.Contains(strings.SplitN(entry, "/", 2)[0], "@"): // user:password@host without redis://
		return server{}, errCredentials(entry)
	case strings.Contains(entry, ":"):
		i := strings.LastIndexByte(entry, ':')
		host, port = entry[:i], entry[i+1:]
	case strings.Contains(entry, "/"):
		o := client.Options{Network: "unix", Addr: entry, DB: db, Password: password}
		return server{o, ring.Identifier(nil, nil, db, &entry)}, nil
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
	o := client.Options{Network: "tcp", Addr: joinHostPort(host, p), DB: db, Password: password}
	return server{o, ring.Identifier(&host, &p, db, nil)}, nil
}

// errCredentials refuses an entry that looks like credentials written
// before a host without a URL scheme (a host name has no '@').
func errCredentials(entry string) error {
	return fmt.Errorf("djcache: LOCATION entry %q: a host name has no '@': write credentials in a URL, "+
		"redis://user:password@host:port/db, or in Options.Password", redact(entry))
}

func parsePort(entry, text string) (int, error) {
	p, err := strconv.Atoi(strings.TrimSpace(text))
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("djcache: LOCATION entry %q: the port must be a number between 1 and 65535", redact(entry))
	}
	return p, nil
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

func parseURL(entry string, db int, password string) (server, error) {
	bad := func(why string) (server, error) {
		return server{}, fmt.Errorf("djcache: LOCATION entry %q: %s", redact(entry), why)
	}
	u, err := url.Parse(entry)
	if err != nil {
		return bad("not a valid URL")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "redis" && scheme != "rediss" && scheme != "unix" {
		return bad("the scheme must be redis://, rediss:// or unix://")
	}
	o := client.Options{Password: password} // as redis-py's from_url: the URL's own wins
	if u.User != nil {
		o.Username = u.User.Username()
		if p, ok := u.User.Password(); ok {
			o.Password = p
		}
	}
	q := u.Query()
	for name := range q {
		switch name {
		case "db", "socket_timeout", "socket_connect_timeout", "ssl_cert_reqs":
		default:
			return bad(fmt.Sprintf("unsupported query parameter %q (supported: db, socket_connect_timeout, socket_timeout, ssl_cert_reqs)", name))
		}
	}
	last := func(name string) (string, bool) {
		v, ok := q[name]
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[len(v)-1], true
	}
	for name, dst := range map[string]*time.Duration{"socket_timeout": &o.ReadTimeout, "socket_connect_timeout": &o.DialTimeout} {
		if v, ok := last(name); ok {
			secs, err := strconv.ParseFloat(v, 64)
			if err != nil || secs <= 0 {
				return bad("?" + name + " must be a positive number of seconds")
			}
			*dst = time.Duration(secs * float64(time.Second))
		}
	}
	if v, ok := last("db"); ok {
		if db, err = strconv.Atoi(strings.TrimSpace(v)); err != nil || db < 0 {
			return bad("?db must be an integer >= 0")
		}
	}
	if scheme == "unix" {
		if u.Path == "" {
			return bad("a unix:// URL needs a socket path")
		}
		o.Network, o.Addr, o.DB = "unix", u.Path, db
		host, port, path := "127.0.0.1", defaultPort, u.Path // the seed's pool defaults
		return server{o, ring.Identifier(&host, &port, db, &path)}, nil
	}
	if path := strings.TrimLeft(u.Path, "/"); path != "" && !q.Has("db") {
		if db, err = strconv.Atoi(path); err != nil || db < 0 {
			return bad("the database must be an integer >= 0")
		}
	}
	port := defaultPort
	if p := u.Port(); p != "" {
		if port, err = parsePort(entry, p); err != nil {
			return server{}, err
		}
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		host = "localhost"
	}
	o.Network, o.Addr, o.DB = "tcp", joinHostPort(host, port), db
	if scheme == "rediss" {
		o.TLS = &tls.Config{ServerName: host}
		if v, _ := last("ssl_cert_reqs"); strings.EqualFold(v, "none") {
			o.TLS.InsecureSkipVerify = true
		}
		return server{o, ring.Identifier(&host, &port, db, nil)}, nil
	}
	empty := ""
	return server{o, ring.Identifier(&host, &port, db, &empty)}, nil
}

// redact hides a URL's password in messages (also of user:password@host
// written without a scheme).
func redact(entry string) string {
	prefix, rest := "", entry
	if scheme, after, ok := strings.Cut(entry, "://"); ok {
		prefix, rest = scheme+"://", after
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return entry
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return entry
	}
	return prefix + user + ":***@" + rest[at+1:]
}
