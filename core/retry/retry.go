// Package retry decides whether a Redis command may be sent a second time
// after the connection it went out on broke: the command's bytes may have
// reached the server and run there, only the reply was lost. Resending is
// right only when running the command twice leaves the data as running it
// once would, and its second answer still tells the caller the truth about
// the data (the differences are noted per command in rules). The rule of
// every command the cache sends is in that one table; a command not in it
// is never resent.
//
// The callers (core/wire's pool, core/client's go-redis hooks) resend once,
// on another connection, and only when the broken one had been reused from
// the pool and broke before any byte of the reply arrived: that is what a
// CLIENT KILL, a proxy restart, a failover or an idle reaper does to a
// healthy server's pooled connections. (A connection found closed before
// anything was written to it sent nothing; replacing it needs no rule.)
package retry

import "strings"

// Rule says whether, and when, a command may be sent again.
type Rule uint8

// The rules.
const (
	// Never: a second run may apply the command twice (INCRBY, a script
	// that writes) or change its answer (SET NX would report "not stored"
	// for the value the first run stored).
	Never Rule = iota
	// Read: the command changes nothing; a second run answers as the first.
	Read
	// Idempotent: a second run leaves the same data; its reply may differ
	// from the first run's, as noted per command in rules.
	Idempotent
	// PlainSet: SET is idempotent unless an option makes it conditional or
	// makes it return the old value (NX, GET, IFEQ, ...): only EX, PX, EXAT,
	// PXAT (with their argument), KEEPTTL and XX are allowed.
	PlainSet
)

// rules holds every command the cache may resend, lower case; MULTI and
// EXEC frame a transaction, which is resent when every command inside may
// be. What a command run twice answers is what its second run answers:
//   - SET (PlainSet), MSET: "OK" both times; FLUSHDB, FLUSHALL too.
//   - DEL, UNLINK: they count only the keys still there, so a key the lost
//     first run deleted is reported as not deleted (delete() returns False,
//     a count comes out lower); the key is gone either way.
//   - PEXPIRE, EXPIRE and their *AT forms: 1 while the key exists, as the
//     first run; a relative TTL starts again from the second run.
//   - PERSIST: 0 when the first run removed the expiry (the cache's
//     Persist asks EXISTS in the same round trip and does not read it).
//
// Left out on purpose: INCRBY and every counter (applied twice), EVAL and
// EVALSHA (a script may write), SET NX / MSETNX / GETDEL / RENAME (the
// second run reports "not stored", nil or "no such key" for what the first
// did), RESTORE (BUSYKEY the second time), and whatever is not listed.
var rules = map[string]Rule{
	// reads
	"get": Read, "mget": Read, "exists": Read, "pttl": Read, "ttl": Read, "strlen": Read, "type": Read,
	"dump": Read, "scan": Read, "keys": Read, "dbsize": Read, "ping": Read, "echo": Read, "info": Read,
	"eval_ro": Read, "evalsha_ro": Read, "fcall_ro": Read,
	"multi": Read, "exec": Read,
	// writes that leave the same data when run twice
	"set": PlainSet, "mset": Idempotent, "del": Idempotent, "unlink": Idempotent,
	"pexpire": Idempotent, "expire": Idempotent, "pexpireat": Idempotent, "expireat": Idempotent,
	"persist": Idempotent, "flushdb": Idempotent, "flushall": Idempotent,
}

// Resendable reports whether the command args (args[0] its name in any
// case, then its arguments as sent: strings, byte slices or numbers) may
// be sent again after its connection broke.
func Resendable(args []any) bool {
	if len(args) == 0 {
		return false
	}
	name, ok := args[0].(string)
	if !ok {
		return false
	}
	switch rules[strings.ToLower(name)] {
	case Read, Idempotent:
		return true
	case PlainSet:
		return plainSetOptions(args)
	}
	return false
}

// plainSetOptions reports whether a SET (name, key, value, options...)
// carries only options that keep it idempotent.
func plainSetOptions(args []any) bool {
	if len(args) < 3 {
		return false
	}
	for i := 3; i < len(args); i++ {
		word, ok := args[i].(string)
		if !ok {
			return false
		}
		switch strings.ToUpper(word) {
		case "EX", "PX", "EXAT", "PXAT":
			i++ // the time argument
		case "KEEPTTL", "XX":
		default:
			return false // NX, GET, IFEQ and whatever a newer Redis adds
		}
	}
	return true
}
