package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/protect"
)

// Protection configures signed or encrypted values (core/protect; OPTIONS
// VALUE_PROTECTION and friends).
type Protection struct {
	// Mode is "sign" or "encrypt". Required.
	Mode string `json:"mode"`
	// Secrets are what keys are derived from: the first writes, every one
	// reads (Django's SECRET_KEY then SECRET_KEY_FALLBACKS, or
	// PROTECTION_KEY). At least one; they never appear in a message.
	Secrets []string `json:"secrets"`
	// Errors is what a read does with a value that does not verify:
	// "miss" (treat it as absent, count it, log it once per key per
	// minute) or "raise" (a *RejectedError). Default: "miss".
	Errors string `json:"errors"`
	// AcceptUnprotected also accepts values without a protection header
	// (a rollout period). Default: false.
	AcceptUnprotected bool `json:"accept_unprotected"`
}

// MarshalJSON keeps the secrets out of every encoding of a Config (the
// group key hashes one; see joinGroup), replaced by a digest that still
// tells two sets of secrets apart.
func (p Protection) MarshalJSON() ([]byte, error) {
	type plain Protection
	q := plain(p)
	q.Secrets = make([]string, len(p.Secrets))
	for i, s := range p.Secrets {
		q.Secrets[i] = fmt.Sprintf("%x", protect.Fingerprint(s))
	}
	return json.Marshal(q)
}

// RejectedError is the error of a read that found a value that does not
// verify, with Protection.Errors "raise". Its message names the key and
// the reason, never the value's bytes.
type RejectedError struct {
	Key    string
	Reason string
}

// Error returns "value of key "k" rejected: <reason>".
func (e *RejectedError) Error() string {
	return fmt.Sprintf("value of key %q rejected: %s; it was not deserialized", e.Key, e.Reason)
}

// Rejection is one value that did not verify, as logged: its key and why.
type Rejection struct {
	Key    string
	Reason string
}

// The rejection log's bounds.
const (
	rejectEvery = time.Minute // one line per key per interval
	rejectKeys  = 10000       // keys remembered for that
	rejectQueue = 1000        // lines kept until Rejections takes them
)

// rejectLog is a group's record of rejections: at most one line per key
// per minute, queued for Rejections (the C library's caller logs them) or
// handed to Config.OnReject.
type rejectLog struct {
	mu      sync.Mutex
	last    map[string]time.Time
	queue   []Rejection
	dropped int
}

// note records a rejection of key and reports whether it is to be logged.
func (l *rejectLog) note(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.last[key]; ok && now.Sub(t) < rejectEvery {
		return false
	}
	if len(l.last) >= rejectKeys {
		for k, t := range l.last {
			if now.Sub(t) >= rejectEvery {
				delete(l.last, k)
			}
		}
		if len(l.last) >= rejectKeys { // a flood of distinct keys: say it once a minute
			clear(l.last)
		}
	}
	if l.last == nil {
		l.last = map[string]time.Time{}
	}
	l.last[key] = now
	return true
}

func (l *rejectLog) push(r Rejection) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) >= rejectQueue {
		l.dropped++
		return
	}
	l.queue = append(l.queue, r)
}

// Rejections returns and forgets the rejections logged since the last
// call (at most one per key per minute, at most 1,000 queued) and how many
// did not fit. Config.OnReject, when set, receives them instead.
func (c *Cache) Rejections() ([]Rejection, int) {
	l := &c.group.rejects
	l.mu.Lock()
	defer l.mu.Unlock()
	q, n := l.queue, l.dropped
	l.queue, l.dropped = nil, 0
	return q, n
}

// protection returns the Protector of cfg (nil without one) and whether a
// rejected read raises.
func (p *Protection) protection() (*protect.Protector, bool, error) {
	if p == nil {
		return nil, false, nil
	}
	mode, err := protect.ParseMode(p.Mode)
	if err != nil {
		return nil, false, err
	}
	if mode == protect.Off {
		return nil, false, errors.New("protection mode must be sign or encrypt")
	}
	raise := false
	switch p.Errors {
	case "", "miss":
	case "raise":
		raise = true
	default:
		return nil, false, fmt.Errorf("protection errors must be miss or raise, not %q", p.Errors)
	}
	guard, err := protect.New(protect.Options{Mode: mode, Secrets: p.Secrets, AcceptUnprotected: p.AcceptUnprotected})
	return guard, raise, err
}

// rejecter returns the values.rejected of c: it counts the rejection on
// the key's server, logs it (rate-limited) and returns nil, or a
// *RejectedError when raise.
func (c *Cache) rejecter(raise bool, onReject func(Rejection)) func(string, error) error {
	return func(key string, why error) error {
		c.shards.Owner(key).Recorder().Reject()
		// key may view the caller's memory (capi borrows the C buffer for the
		// call): what outlives the call (the log's map and queue, the error)
		// keeps a copy
		key = strings.Clone(key)
		r := Rejection{Key: key, Reason: why.Error()}
		if raise {
			return &RejectedError{Key: r.Key, Reason: r.Reason}
		}
		if c.group.rejects.note(key, time.Now()) {
			if onReject != nil {
				onReject(r)
			} else {
				c.group.rejects.push(r)
			}
		}
		return nil
	}
}
