package client

import (
	"context"
	"errors"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// sentinelClient is a connection to the Sentinel at addr, as this package
// opens them (sentinelshard.go, and to name the known primaries).
func sentinelClient(o Options, t *Topology, addr string) *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{
		Addr:                     addr,
		Password:                 t.SentinelPassword,
		TLSConfig:                o.TLS,
		Dialer:                   guardedDialer(o.DialTimeout, o.TLS),
		DialTimeout:              o.DialTimeout,
		ReadTimeout:              o.ReadTimeout,
		WriteTimeout:             o.WriteTimeout,
		PoolSize:                 1,
		MaxRetries:               -1,
		DialerRetries:            1,
		Protocol:                 2,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
}

// unknownServiceError: Sentinels answered, and none of them monitors a
// primary by the configured name.
type unknownServiceError struct {
	service  string
	known    []string // the primaries the answering Sentinels monitor, sorted
	answered int      // how many Sentinels answered SENTINEL MASTERS
	of       int      // how many are configured
}

// Error says which name is unknown and which ones the Sentinels know.
func (e *unknownServiceError) Error() string {
	var b strings.Builder
	b.WriteString("no Sentinel knows a primary named " + quote(e.service) + " (check SENTINEL_SERVICE)")
	if e.answered < e.of {
		b.WriteString("; " + strconv.Itoa(e.answered) + " of " + strconv.Itoa(e.of) + " Sentinels answered")
	}
	if len(e.known) == 0 {
		b.WriteString("; they monitor no primary")
		return b.String()
	}
	quoted := make([]string, len(e.known))
	for i, name := range e.known {
		quoted[i] = quote(name)
	}
	b.WriteString("; primaries they know: " + strings.Join(quoted, ", "))
	return b.String()
}

// quote puts a name in single quotes, as Django settings spell strings.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }

// unknownService turns err, a failure to find t.Service's primary, into an
// *unknownServiceError when a Sentinel answered that it knows no primary by
// that name (go-redis reports it as redis.Nil, and as "unreachable"). The
// names they know are asked from every Sentinel (SENTINEL MASTERS) over
// sentinels, or over new connections when sentinels is nil.
func unknownService(ctx context.Context, o Options, t *Topology, sentinels []*redis.SentinelClient, err error) error {
	if !errors.Is(err, redis.Nil) {
		return err
	}
	ctx = context.WithoutCancel(ctx) // a dial's context may be over; each Sentinel call has its timeouts
	if sentinels == nil {
		for _, addr := range t.Addrs {
			sc := sentinelClient(o, t, addr)
			defer sc.Close()
			sentinels = append(sentinels, sc)
		}
	}
	e := &unknownServiceError{service: t.Service, of: len(sentinels)}
	seen := map[string]bool{}
	for _, sc := range sentinels {
		masters, err := sc.Masters(ctx).Result()
		if err != nil {
			continue
		}
		e.answered++
		for _, m := range masters {
			if name := field(m, "name"); name != "" && !seen[name] {
				seen[name] = true
				e.known = append(e.known, name)
			}
		}
	}
	if e.answered == 0 {
		return err
	}
	sort.Strings(e.known)
	return e
}

// field returns the value of name in one SENTINEL MASTERS entry (a flat
// list of field names and values in RESP2).
func field(entry any, name string) string {
	kv, _ := entry.([]any)
	for i := 0; i+1 < len(kv); i += 2 {
		if k, _ := kv[i].(string); k == name {
			v, _ := kv[i+1].(string)
			return v
		}
	}
	return ""
}

// sentinelHook names an unknown SENTINEL_SERVICE on the failover client:
// go-redis looks the primary up when it dials.
type sentinelHook struct {
	o Options
	t *Topology
}

func (h sentinelHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := next(ctx, network, addr)
		if err != nil {
			return nil, unknownService(ctx, h.o, h.t, nil, err)
		}
		return nc, nil
	}
}

func (sentinelHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (sentinelHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
