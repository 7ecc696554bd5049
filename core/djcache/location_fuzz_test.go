package djcache

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParseEntry feeds arbitrary LOCATION entries to the parser: it must
// never panic, and neither an error message nor the parsed server's
// description may contain a password, whether it came from OPTIONS or from
// the URL. Seeds: the forms the README documents; the checked-in corpus is
// in testdata/fuzz/FuzzParseEntry.
func FuzzParseEntry(f *testing.F) {
	for _, seed := range []string{
		"127.0.0.1:6379", "localhost", "[::1]:6380", "/tmp/redis.sock", " 10.0.0.2:7000",
		"redis://user:pa55@127.0.0.1:6379/2", "rediss://:pa55@h:6390?ssl_cert_reqs=none",
		"unix:///tmp/r.sock?db=3", "redis://h:99999", "redis://h/x?socket_timeout=-1", "redis://%zz",
	} {
		f.Add(seed)
	}
	const optionsPassword = "options-Secret-9"
	f.Fuzz(func(t *testing.T, entry string) {
		secrets := []string{optionsPassword}
		if u, err := url.Parse(entry); err == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok && len(pw) >= 4 && strings.Count(entry, pw) == 1 {
				secrets = append(secrets, pw)
			}
		}
		s, err := parseEntry(entry, 1, optionsPassword)
		text := ""
		if err != nil {
			text = err.Error()
		} else {
			text = s.opts.String()
		}
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Fatalf("parseEntry(%q) leaks the password %q: %s", entry, secret, text)
			}
		}
	})
}
