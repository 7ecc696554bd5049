"""``manage.py redis_cache copy --from A --to B``: the copy between two layouts, driven one batch
at a time through ``rcg_copy_step`` (the work is Go's, core/migrate), with progress on stderr and
the SCAN cursors in a state file after every batch, so an interrupted copy resumes.

The key space copied is the source cache's: the keys its KEY_PREFIX covers, every version
(``KEY_FUNCTION("*", KEY_PREFIX, "*")``, the pattern ``clear()`` uses), or with ``--all-keys``
every key of the source's database. See docs/servers.md, "Moving between layouts".
"""
from __future__ import annotations

import json
import os
import re
from typing import Any, Callable

from django.core.management.base import CommandError, CommandParser

from redis_cache_go import _native_ext
from redis_cache_go.backend import RedisCache
from redis_cache_go.exceptions import RedisCacheError

STATE_VERSION = 1
FAILURES_SHOWN = 50  # keys named on stderr; the summary counts them all
COUNT_FIELDS = ("scanned", "skipped", "copied", "already", "expired", "failed", "fallback", "deleted", "changed")


def add_arguments(parser: CommandParser) -> None:
    """The copy action's options."""
    parser.add_argument("--from", dest="source", default=None, help="copy: the CACHES alias to copy from")
    parser.add_argument("--to", dest="dest", default=None, help="copy: the CACHES alias to copy to")
    parser.add_argument("--all-keys", action="store_true",
                        help="copy: every key of the source's database, not only its KEY_PREFIX's")
    parser.add_argument("--delete-moved", action="store_true",
                        help="copy: delete each key whose server changed from its old server, if unchanged")
    parser.add_argument("--state", default=None, help="copy: the state file (default: ./redis_cache_copy.FROM.TO.json)")
    parser.add_argument("--max-batches", type=int, default=0,
                        help="copy: stop after this many batches, keeping the state (default: no limit)")


def default_state_path(source: str, dest: str) -> str:
    """Where the state of a copy from alias ``source`` to ``dest`` goes: the working directory."""
    def safe(alias: str) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]", "_", alias)
    return os.path.abspath(f"redis_cache_copy.{safe(source)}.{safe(dest)}.json")


def native(cache: RedisCache, alias: str) -> _native_ext.Client:
    """The cache's native client (under FORK_FALLBACK's wrapper, if any)."""
    client = getattr(cache._client, "_native", cache._client)
    if not isinstance(client, _native_ext.Client):
        raise CommandError(f"CACHES[{alias!r}] has no native client to copy with")
    return client


class Copy:
    """One run of the copy action. ``out``/``err`` write a line; ``progress(label, total)`` makes a
    Progress; ``confirm(question)`` asks (or not, with --noinput)."""

    def __init__(self, source: str, dest: str, src: RedisCache, dst: RedisCache, options: dict[str, Any],
                 out: Callable[[str], None], err: Callable[[str], None], progress: Callable[[str, int], Any],
                 confirm: Callable[[str], None]) -> None:
        self.source, self.dest, self.src, self.dst = source, dest, src, dst
        self.options, self.out, self.err, self.progress, self.confirm = options, out, err, progress, confirm
        self.pattern = b"*" if options["all_keys"] else src._prefix_pattern()
        self.path: str = options["state"] or default_state_path(source, dest)
        self.identity = {"from": source, "to": dest, "from_servers": src._describe, "to_servers": dst._describe,
                         "pattern": self.pattern.decode("utf-8", "replace"), "delete_moved": bool(options["delete_moved"])}
        self.failures_shown = 0

    def request(self, state: dict[str, Any], count_only: bool = False) -> dict[str, Any]:
        return {"pattern": self.pattern.decode(), "count": self.options["itersize"],
                "delete_moved": bool(self.options["delete_moved"]), "count_only": count_only, "state": state}

    def load(self) -> tuple[dict[str, Any], dict[str, int]]:
        """(state, counts so far): a fresh start, or where the state file says the copy stands."""
        if not os.path.exists(self.path):
            return {}, {k: 0 for k in COUNT_FIELDS}
        try:
            with open(self.path, encoding="utf-8") as f:
                doc = json.load(f)
            state, counts = doc["state"], {k: int(doc["counts"].get(k, 0)) for k in COUNT_FIELDS}
            identity = doc["copy"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise CommandError(f"cannot read the state file {self.path} ({e}); remove it to start over") from None
        if identity != self.identity or doc.get("version") != STATE_VERSION:
            differ = ", ".join(f"{k} {identity.get(k)!r} there, {v!r} here" for k, v in self.identity.items()
                               if identity.get(k) != v) or f"version {doc.get('version')!r}"
            raise CommandError(f"the state file {self.path} belongs to another copy ({differ}); run the copy it "
                               "records with the same options, remove it to start this one, or pass --state PATH")
        return state, counts

    def save(self, state: dict[str, Any], counts: dict[str, int]) -> None:
        """Write the state file atomically (a reader or a crash sees the old one or the new one)."""
        doc = {"version": STATE_VERSION, "copy": self.identity, "state": state, "counts": counts}
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def count(self, client: _native_ext.Client, dst: _native_ext.Client) -> int:
        bar = self.progress("Counting", 0)
        state: dict[str, Any] = {}
        total = 0
        while True:
            res = client.copy_step(dst, self.request(state, count_only=True))
            total += int(res["counts"]["scanned"])
            bar.add(res["counts"]["scanned"])
            if res["finished"]:
                bar.finish()
                return total
            state = res["state"]

    def run(self) -> None:
        if self.source == self.dest:
            raise CommandError("--from and --to name the same cache: nothing to copy")
        if self.options["itersize"] > 10000:
            raise CommandError("--itersize for copy is at most 10000 (each batch holds its values in memory)")
        client, dst = native(self.src, self.source), native(self.dst, self.dest)
        state, counts = self.load()
        resumed = bool(state)
        what = f"keys matching {self.pattern.decode('utf-8', 'replace')!r} from CACHES[{self.source!r}] " \
               f"({self.src._describe}) to CACHES[{self.dest!r}] ({self.dst._describe})"
        try:
            total = self.count(client, dst)
        except KeyboardInterrupt:
            raise CommandError("Interrupted while counting the keys: nothing was copied.", returncode=130) from None
        except RedisCacheError as e:
            raise CommandError(f"copy from CACHES[{self.source!r}] to CACHES[{self.dest!r}]: {e}") from e
        if self.options["dry_run"]:
            self.out(f"{total} {what} would be copied (dry run: nothing written).")
            return
        if self.options["delete_moved"]:
            self.confirm(f"Copy {total} {what}, deleting from its old server each key whose server changes?")
        if resumed:
            self.out(f"Resuming the copy from {self.path} ({counts['scanned']} keys scanned before).")
        self.loop(client, dst, state, counts, total, what)

    def loop(self, client: _native_ext.Client, dst: _native_ext.Client, state: dict[str, Any], counts: dict[str, int],
             total: int, what: str) -> None:
        bar = self.progress("Copying", max(total, 0))
        batches, limit = 0, self.options["max_batches"]
        try:
            while True:
                try:
                    res = client.copy_step(dst, self.request(state))
                except RedisCacheError as e:
                    raise CommandError(f"copy from CACHES[{self.source!r}] to CACHES[{self.dest!r}]: {e}; what was "
                                       f"copied before is recorded in {self.path}: run the same command again to "
                                       "resume") from e
                state = res["state"]
                for k in COUNT_FIELDS:
                    counts[k] += int(res["counts"][k])
                self.report(res["failures"])
                bar.add(res["counts"]["scanned"])
                batches += 1
                if res["finished"]:
                    break
                self.save(state, counts)
                if limit and batches >= limit:
                    bar.stream.write("\n")
                    self.out(f"Stopped after {batches} batches as asked (--max-batches); the state is in "
                             f"{self.path}: run the same command again to continue. So far: {summary(counts)}.")
                    return
        except KeyboardInterrupt:
            bar.stream.write("\n")
            raise CommandError(f"Interrupted: so far {summary(counts)} (the batch in progress may have copied up to "
                               f"{self.options['itersize']} more per source server, found already there on resume); "
                               f"the state is in {self.path}: run the same command again to resume.",
                               returncode=130) from None
        bar.finish()
        if os.path.exists(self.path):
            os.remove(self.path)
        text = f"Copied {what}: {summary(counts)}."
        if counts["failed"]:
            raise CommandError(f"{text} {counts['failed']} keys were not copied (named above).")
        self.out(text)

    def report(self, failures: list[dict[str, str]]) -> None:
        for f in failures:
            if self.failures_shown < FAILURES_SHOWN:
                self.err(f"not copied: {f['key']!r} to {f['server']}: {f['reason']}")
            elif self.failures_shown == FAILURES_SHOWN:
                self.err("(more keys not copied: the summary counts them)")
            self.failures_shown += 1


def summary(c: dict[str, int]) -> str:
    """The counts of a copy, in words."""
    text = (f"{c['scanned']} scanned, {c['skipped']} skipped (same server), {c['copied']} copied"
            + (f" ({c['fallback']} with GET/SET: RESTORE refused)" if c["fallback"] else "")
            + f", {c['already']} already there, {c['expired']} expired, {c['failed']} failed")
    if c["deleted"] or c["changed"]:
        text += f", {c['deleted']} deleted from their old server, {c['changed']} left there (changed since read)"
    return text
