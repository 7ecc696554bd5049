package djcache

import (
	"fmt"
	"log/slog"

	"github.com/redis-cache-go/redis-cache-go/core/cache"
)

// RejectedError is the error of a read (Get, GetInto, GetMany, GetOrSet)
// that found a value that does not verify, with Options.ProtectionErrors
// "raise": errors.As(err, new(*djcache.RejectedError)) finds it. Its
// message names the Redis key and the reason, never the value's bytes.
// Options.IgnoreExceptions does not turn it into a miss (as in the Python
// package, where it is ProtectionError); ProtectionErrors "miss" does.
type RejectedError = cache.RejectedError

// Rejection is one value rejected as a miss, as Options.OnReject receives
// it: its Redis key (after MakeKey) and why it did not verify.
type Rejection = cache.Rejection

// LogRejection is the default Options.OnReject: it logs r on log/slog's
// default logger (as it is when r arrives) at level Warn, with the key and
// the reason as attributes, as the Python package logs a rejection.
func LogRejection(r Rejection) {
	slog.Warn("djcache: a cached value did not verify and was treated as a miss", "key", r.Key, "reason", r.Reason)
}

// protection is the core/cache protection o describes (o's defaults
// applied), or nil when o.ValueProtection is off.
func protection(o Options) (*cache.Protection, error) {
	if o.ProtectionErrors != "miss" && o.ProtectionErrors != "raise" {
		return nil, fmt.Errorf("djcache: Options.ProtectionErrors = %q: must be \"miss\" or \"raise\"", o.ProtectionErrors)
	}
	switch o.ValueProtection {
	case "":
		return nil, nil
	case "sign", "encrypt":
	default:
		return nil, fmt.Errorf("djcache: Options.ValueProtection = %q: must be \"sign\", \"encrypt\" or \"\" (off)", o.ValueProtection)
	}
	if len(o.ProtectionKeys) == 0 {
		return nil, fmt.Errorf("djcache: Options.ValueProtection = %q needs Options.ProtectionKeys: "+
			"give the Django site's SECRET_KEY then its SECRET_KEY_FALLBACKS, or its OPTIONS[\"PROTECTION_KEY\"] list", o.ValueProtection)
	}
	for i, k := range o.ProtectionKeys {
		if k == "" {
			return nil, fmt.Errorf("djcache: Options.ProtectionKeys[%d] is empty", i)
		}
	}
	return &cache.Protection{Mode: o.ValueProtection, Secrets: o.ProtectionKeys, Errors: o.ProtectionErrors,
		AcceptUnprotected: o.AcceptUnprotected}, nil
}

// warnIgnoredProtection logs, as the Python package warns, the protection
// settings that ValueProtection "" makes ignored (ProtectionKeys alone is
// not: it may carry SECRET_KEY whether or not protection is on).
func warnIgnoredProtection(opts Options) {
	if opts.ValueProtection != "" {
		return
	}
	if opts.ProtectionErrors != "" {
		slog.Warn("djcache: Options.ProtectionErrors is ignored: Options.ValueProtection is not set")
	}
	if opts.AcceptUnprotected {
		slog.Warn("djcache: Options.AcceptUnprotected is ignored: Options.ValueProtection is not set")
	}
}
