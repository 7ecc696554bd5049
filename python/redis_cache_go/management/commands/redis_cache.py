"""``manage.py redis_cache <action>``: look at and maintain a redis-cache-go cache.

Actions (``--cache ALIAS`` picks the CACHES entry, default "default"):

* ``ping`` - PING every server, with the round-trip time of each.
* ``info [--section NAME]`` - the cache's configuration and, per server, a summary of INFO (or
  one raw INFO section).
* ``stats [--samples N] [--json]`` - this process's counters kept in Go (see ``cache.stats()``)
  after N PINGs per server (a latency probe), plus each server's own hit/miss counters.
* ``delete-pattern PATTERN [--key-version V] [--raw] [--dry-run]`` - delete the keys matching a
  pattern in the cache's key space (KEY_PREFIX and VERSION applied; ``--raw``: a Redis glob as is).
* ``reinsert`` - re-encode every value of the cache's KEY_PREFIX with the current COMPRESSOR and
  VALUE_PROTECTION (protects values written before it, re-signs those of a rotated-out secret).
* ``clear-version VERSION [--dry-run]`` - delete every key of one VERSION of the cache.
* ``copy --from ALIAS --to ALIAS [--all-keys] [--delete-moved] [--state PATH] [--max-batches N]
  [--dry-run]`` - copy the source cache's keys (its KEY_PREFIX, every version; ``--all-keys``: its
  whole db) with their values and TTLs to where the destination places them, never overwriting,
  skipping keys whose server does not change (``--delete-moved``: deleting those that moved from
  their old server, if unchanged); resumable from a state file written after every batch. See
  management/_copy.py and docs/servers.md, "Moving between layouts".

Long walks count the matching keys first, then show a progress bar (on a terminal; elsewhere a
line per 10%) on stderr. Destructive actions ask for confirmation unless ``--noinput``. Every
failure ends the command with a non-zero status and a message naming the server. Ctrl-C ends it
with status 130 (as other interrupted command-line tools) and says what was done before.
"""
from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from django.core.cache import InvalidCacheBackendError, caches
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from redis_cache_go import _native_ext
from redis_cache_go.backend import RedisCache
from redis_cache_go.management import _copy
from redis_cache_go.exceptions import RedisCacheError

ACTIONS = ("ping", "info", "stats", "delete-pattern", "reinsert", "clear-version", "copy")
INFO_FIELDS = ("redis_version", "role", "uptime_in_seconds", "connected_clients", "used_memory_human",
               "maxmemory_human", "maxmemory_policy", "evicted_keys", "expired_keys", "keyspace_hits",
               "keyspace_misses", "instantaneous_ops_per_sec")


class Progress:
    """A progress bar on a terminal (redrawn at most every 0.1 s), a line per 10% elsewhere."""

    def __init__(self, stream: TextIO, label: str, total: int, unit: str = "keys") -> None:
        self.stream, self.label, self.total, self.unit = stream, label, max(total, 0), unit
        self.done = 0
        self.start = self.last = time.monotonic()
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.reported_tenth = -1

    def add(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.tty and now - self.last >= 0.1:
            self.last = now
            self._draw(now)
        elif not self.tty:
            tenth = self.done * 10 // self.total if self.total else 10
            if tenth > self.reported_tenth and tenth < 10:
                self.reported_tenth = tenth
                self.stream.write(self._line(now) + "\n")
                self.stream.flush()

    def finish(self) -> None:
        now = time.monotonic()
        self.stream.write(("\r" if self.tty else "") + self._line(now, final=True) + ("\033[K\n" if self.tty else "\n"))
        self.stream.flush()

    def _line(self, now: float, final: bool = False) -> str:
        total = max(self.total, self.done)  # keys written meanwhile can outgrow the count
        if final:  # the work is over: what was done, however the first count compared
            return f"{self.label} [{'#' * 25}] 100% {self.done} {self.unit} in {now - self.start:.1f}s"
        pct = min(100, self.done * 100 // total) if total else 0
        rate = self.done / max(now - self.start, 1e-9)
        bar = "#" * (pct // 4) + "." * (25 - pct // 4)
        text = f"{self.label} [{bar}] {pct:3d}% {self.done}/{total} {self.unit}"
        if rate > 0 and total > self.done:
            text += f", {rate:,.0f}/s, about {(total - self.done) / rate:.0f}s left"
        return text

    def _draw(self, now: float) -> None:
        self.stream.write("\r" + self._line(now) + "\033[K")
        self.stream.flush()


INTERRUPTED = 130  # the exit status of a command ended by Ctrl-C (128 + SIGINT), as shells report it


class _Interrupted(Exception):
    """Ctrl-C during a key walk, after ``done`` keys were acted on in finished steps."""

    def __init__(self, done: int) -> None:
        super().__init__(done)
        self.done = done


class Command(BaseCommand):
    help = "Look at and maintain a redis-cache-go cache: " + ", ".join(ACTIONS) + "."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=ACTIONS, help="what to do")
        parser.add_argument("args", nargs="*", help="delete-pattern: PATTERN; clear-version: VERSION")
        parser.add_argument("--cache", default="default", help="the CACHES alias (default: %(default)s)")
        parser.add_argument("--key-version", type=int, default=None,
                            help="delete-pattern: the VERSION whose keys match (default: the cache's VERSION)")
        parser.add_argument("--raw", action="store_true", help="delete-pattern: PATTERN is a Redis glob, used as is")
        parser.add_argument("--itersize", type=int, default=1000, help="keys per SCAN step and batch (default: %(default)s)")
        parser.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive",
                            help="do not ask for confirmation")
        parser.add_argument("--section", default=None, help="info: print this raw INFO section of every server")
        parser.add_argument("--samples", type=int, default=20, help="stats: PINGs per server first (default: %(default)s)")
        parser.add_argument("--json", action="store_true", help="stats: print JSON")
        _copy.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        action: str = options["action"]
        if options["itersize"] < 1:
            raise CommandError("--itersize must be at least 1")
        if action == "copy":
            self._copy([str(a) for a in args], options)
            return
        cache = self._cache(options["cache"])
        try:
            {
                "ping": self._ping,
                "info": self._info,
                "stats": self._stats,
                "delete-pattern": self._delete_pattern,
                "reinsert": self._reinsert,
                "clear-version": self._clear_version,
            }[action](cache, [str(a) for a in args], options)
        except RedisCacheError as e:
            raise CommandError(f"CACHES[{options['cache']!r}]: {e}") from e
        except KeyboardInterrupt:
            raise CommandError("Interrupted.", returncode=INTERRUPTED) from None

    # -- helpers -------------------------------------------------------------------------------
    def _cache(self, alias: str) -> RedisCache:
        try:
            cache = caches[alias]
        except InvalidCacheBackendError as e:
            raise CommandError(f"{e}") from e
        except ImproperlyConfigured as e:
            raise CommandError(f"CACHES[{alias!r}] is misconfigured: {e} (`manage.py check` lists every problem)") from e
        if not isinstance(cache, RedisCache):
            raise CommandError(f"CACHES[{alias!r}] uses {type(cache).__module__}.{type(cache).__name__}; "
                               "redis_cache works with redis-cache-go backends only")
        return cache

    @staticmethod
    def _no_args(action: str, args: list[str]) -> None:
        if args:
            raise CommandError(f"{action} takes no arguments (got {' '.join(args)!r})")

    def _servers(self, cache: RedisCache) -> list[tuple[int, str]]:
        """(index, name) of every server the native client talks to, in LOCATION order."""
        return [(i, s["server"]) for i, s in enumerate(cache.stats())]

    def _confirm(self, question: str, options: dict[str, Any]) -> None:
        if not options["interactive"]:
            return
        try:
            answer = input(f"{question} Type 'yes' to continue, or 'no' to cancel: ")
        except KeyboardInterrupt:
            self.stdout.write("")  # end the prompt's line
            raise CommandError("Interrupted: nothing was deleted.", returncode=INTERRUPTED) from None
        if answer.strip().lower() != "yes":
            raise CommandError("Cancelled.")

    def _walk(self, cache: RedisCache, op: int, pattern: bytes, label: str, total: int, itersize: int) -> int:
        """Walk the keys one SCAN step at a time; the number acted on. Ctrl-C raises _Interrupted
        with the number acted on in the steps that finished."""
        progress = Progress(self._stderr_stream(), label, total)
        done = 0
        try:
            for _, found, n in cache._walk(op, pattern, itersize):
                done += n
                progress.add(found)
        except KeyboardInterrupt:
            progress.stream.write("\n")
            raise _Interrupted(done) from None
        progress.finish()
        return done

    def _count(self, cache: RedisCache, pattern: bytes, itersize: int) -> int:
        try:
            return self._walk(cache, _native_ext.WALK_COUNT, pattern, "Counting", 0, itersize)
        except _Interrupted:
            raise CommandError("Interrupted while counting the keys: nothing was changed.", returncode=INTERRUPTED) from None

    @staticmethod
    def _interrupted(done: str, itersize: int, rest: str) -> CommandError:
        return CommandError(f"Interrupted: {done} before the interruption (the step in progress may have done up to "
                            f"{itersize} more); {rest}", returncode=INTERRUPTED)

    def _stderr_stream(self) -> TextIO:
        stream = getattr(self.stderr, "_out", None)  # Django's OutputWrapper keeps the real stream here
        return stream if stream is not None else sys.stderr

    # -- actions -------------------------------------------------------------------------------
    def _ping(self, cache: RedisCache, args: list[str], options: dict[str, Any]) -> None:
        self._no_args("ping", args)
        failed: list[str] = []
        for i, name in self._servers(cache):
            start = time.perf_counter()
            try:
                cache._client.server_command(i, [b"PING"])
            except RedisCacheError as e:
                failed.append(name)
                self.stdout.write(self.style.ERROR(f"FAIL {name}: {_reason(name, e)}"))
                continue
            self.stdout.write(self.style.SUCCESS(f"PONG {name} in {(time.perf_counter() - start) * 1000:.2f} ms"))
        if failed:
            raise CommandError(f"{len(failed)} of {len(self._servers(cache))} servers did not answer: {', '.join(failed)}")

    def _info(self, cache: RedisCache, args: list[str], options: dict[str, Any]) -> None:
        self._no_args("info", args)
        s = cache._settings
        self.stdout.write(self.style.MIGRATE_HEADING(f"{type(cache).__module__}.{type(cache).__name__} "
                                                     f"(CACHES[{options['cache']!r}])"))
        codec = s.codec
        rows = [
            ("servers", cache._describe),
            ("KEY_PREFIX", repr(cache.key_prefix)), ("VERSION", str(cache.version)),
            ("TIMEOUT", repr(cache.default_timeout)),
            ("serializer", getattr(codec.serializer, "name", type(codec.serializer).__name__)),
            ("compressor", str(codec.compression.native_config().get("compressor", "none"))
             if codec.compression.python is None else type(codec.compression.python).__name__),
        ]
        for key, value in rows:
            self.stdout.write(f"  {key:<12} {value}")
        for i, name in self._servers(cache):
            self.stdout.write(self.style.MIGRATE_HEADING(f"# {name}"))
            section = options["section"]
            reply = cache._client.server_command(i, [b"INFO"] + ([section.encode()] if section else []))
            text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
            if section:
                self.stdout.write(text.rstrip())
                continue
            info = _parse_info(text)
            for key in INFO_FIELDS:
                if key in info:
                    self.stdout.write(f"  {key:<26} {info[key]}")
            for key in sorted(k for k in info if k.startswith("db")):
                self.stdout.write(f"  {key:<26} {info[key]}")

    def _stats(self, cache: RedisCache, args: list[str], options: dict[str, Any]) -> None:
        self._no_args("stats", args)
        servers = self._servers(cache)
        errors: list[str] = []
        for i, name in servers:
            for _ in range(max(options["samples"], 0)):
                try:
                    cache._client.server_command(i, [b"PING"])
                except RedisCacheError as e:
                    errors.append(f"{name}: {_reason(name, e)}")
                    break
        server_side: dict[str, dict[str, str]] = {}
        for i, name in servers:
            try:
                reply = cache._client.server_command(i, [b"INFO", b"stats"])
                server_side[name] = _parse_info(reply.decode("utf-8", "replace") if isinstance(reply, bytes) else "")
            except RedisCacheError as e:
                errors.append(f"{name}: {_reason(name, e)}")
        stats = cache.stats()
        if options["json"]:
            for entry in stats:
                info = server_side.get(entry["server"], {})
                entry["server_info"] = {k: int(info[k]) for k in ("keyspace_hits", "keyspace_misses",
                                                                  "total_commands_processed") if k in info}
            self.stdout.write(json.dumps(stats, indent=2, sort_keys=True))
        else:
            self.stdout.write(f"This process's counters (kept in Go) after {options['samples']} PINGs per server; "
                              "a running site's counters live in its own processes (cache.stats(), "
                              "redis_cache_go.prometheus).")
            for entry in stats:
                self._print_stats(entry, server_side.get(entry["server"], {}))
        if errors:
            raise CommandError("some servers did not answer: " + "; ".join(errors))

    def _print_stats(self, s: dict[str, Any], info: dict[str, str]) -> None:
        lat, pool = s["latency_us"], s.get("pool") or {}
        lookups = s["hits"] + s["misses"]
        ratio = f"{s['hits'] * 100 / lookups:.1f}%" if lookups else "-"
        self.stdout.write(self.style.MIGRATE_HEADING(f"# {s['server']}"))
        self.stdout.write(f"  commands {s['commands']}  hits {s['hits']}  misses {s['misses']}  hit ratio {ratio}  "
                          f"errors {s['errors']}")
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(s["errors_by_kind"].items()) if v)
        if kinds:
            self.stdout.write(self.style.WARNING(f"  errors by kind: {kinds}"))
        self.stdout.write(f"  latency us  p50 {lat['p50']:.0f}  p90 {lat['p90']:.0f}  p99 {lat['p99']:.0f}  "
                          f"p99.9 {lat['p999']:.0f}  max {lat['max']:.0f}  mean {lat['mean']:.1f}  (n={lat['count']})")
        if pool:
            self.stdout.write(f"  pool  conns {pool['total_conns']} (idle {pool['idle_conns']}, stale {pool['stale_conns']})  "
                              f"hits {pool['hits']}  misses {pool['misses']}  timeouts {pool['timeouts']}  waits {pool['waits']}")
        if info:
            hits, misses = int(info.get("keyspace_hits", 0)), int(info.get("keyspace_misses", 0))
            server_ratio = f"{hits * 100 / (hits + misses):.1f}%" if hits + misses else "-"
            self.stdout.write(f"  server (all clients)  keyspace_hits {hits}  keyspace_misses {misses}  "
                              f"hit ratio {server_ratio}  commands {info.get('total_commands_processed', '?')}")

    def _delete(self, cache: RedisCache, pattern: bytes, what: str, options: dict[str, Any]) -> None:
        itersize = options["itersize"]
        total = self._count(cache, pattern, itersize)
        servers = len(self._servers(cache))
        where = f" on {servers} servers" if servers > 1 else ""
        if servers > 1 and cache._mode == "copy":
            where += " (each copy counted)"
        if options["dry_run"]:
            self.stdout.write(f"{total} keys match {what}{where} (dry run: nothing deleted).")
            return
        if total == 0:
            self.stdout.write(f"No keys match {what}.")
            return
        self._confirm(f"Delete {total} keys matching {what}{where}?", options)
        try:
            deleted = self._walk(cache, _native_ext.WALK_DELETE, pattern, "Deleting", total, itersize)
        except _Interrupted as e:
            raise self._interrupted(f"at least {e.done} keys matching {what}{where} were deleted", itersize,
                                    "run the command again to delete the rest.") from None
        self.stdout.write(self.style.SUCCESS(f"Deleted {deleted} keys matching {what}{where}."))

    def _delete_pattern(self, cache: RedisCache, args: list[str], options: dict[str, Any]) -> None:
        if len(args) != 1:
            raise CommandError("delete-pattern takes one PATTERN, e.g. 'user:*'")
        if options["raw"]:
            if options["key_version"] is not None:
                raise CommandError("--raw and --key-version do not go together: a raw pattern is used as is")
            pattern = args[0].encode()
        else:
            pattern = cache.make_pattern(args[0], version=options["key_version"])
        self._delete(cache, pattern, repr(pattern.decode("utf-8", "replace")), options)

    def _clear_version(self, cache: RedisCache, args: list[str], options: dict[str, Any]) -> None:
        if len(args) != 1:
            raise CommandError("clear-version takes one VERSION, e.g. clear-version 2")
        try:
            version = int(args[0])
        except ValueError:
            raise CommandError(f"VERSION must be an integer, not {args[0]!r}") from None
        pattern = cache.make_pattern("*", version=version)
        self._delete(cache, pattern, f"version {version} ({pattern.decode('utf-8', 'replace')!r})", options)

    def _reinsert(self, cache: RedisCache, args: list[str], options: dict[str, Any]) -> None:
        self._no_args("reinsert", args)
        itersize = options["itersize"]
        if cache._py_compressor is not None:  # a Python compressor class: Go cannot re-encode, no steps
            self.stdout.write("Re-encoding with a Python compressor class, one key at a time (no progress bar)...")
            changed = cache.reinsert_keys(itersize)
            self.stdout.write(self.style.SUCCESS(f"Rewrote {changed} values."))
            return
        pattern = cache._prefix_pattern()
        protected = cache._settings.protection
        protection = f" and protection ({protected['mode']})" if protected else ""
        total = self._count(cache, pattern, itersize)
        if options["dry_run"]:
            self.stdout.write(f"{total} keys would be checked (dry run: nothing rewritten).")
            return
        try:
            changed = self._walk(cache, _native_ext.WALK_REINSERT, pattern, "Re-encoding", total, itersize)
        except _Interrupted as e:
            raise self._interrupted(f"at least {e.done} values were rewritten", itersize,
                                    "the others keep their old encoding, which reads as before; run it again to finish.") from None
        self.stdout.write(self.style.SUCCESS(f"Rewrote {changed} of {total} values with the current compressor{protection}."))


    def _copy(self, args: list[str], options: dict[str, Any]) -> None:
        self._no_args("copy", args)
        if not options["source"] or not options["dest"]:
            raise CommandError("copy needs --from ALIAS and --to ALIAS (CACHES entries)")
        src, dst = self._cache(options["source"]), self._cache(options["dest"])
        stream = self._stderr_stream()
        try:
            _copy.Copy(options["source"], options["dest"], src, dst, options,
                       out=lambda line: self.stdout.write(line), err=lambda line: self.stderr.write(line),
                       progress=lambda label, total: Progress(stream, label, total),
                       confirm=lambda question: self._confirm(question, options)).run()
        except KeyboardInterrupt:
            raise CommandError("Interrupted.", returncode=INTERRUPTED) from None


def _reason(name: str, error: Exception) -> str:
    """The error's message without the server's name in front (the caller names the server)."""
    return str(error).removeprefix(f"{name}: ")


def _parse_info(text: str) -> dict[str, str]:
    info: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and ":" in line:
            key, _, value = line.partition(":")
            info[key] = value.strip()
    return info
