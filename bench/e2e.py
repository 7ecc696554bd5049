#!/usr/bin/env python3
"""End-to-end bench: requests/s and p99 of a Django page served by gunicorn, per cache backend.

What a user of the site feels, not one cache call: a throw-away redis-server, and for every cell
(backend x gunicorn worker class) a fresh gunicorn serving bench/e2e_site, loaded by ApacheBench.
The page (bench/e2e_site/views.py) does per request what a typical page does with its cache:

  session read and write   SESSION_ENGINE cache: get on load; get + set on save (the page changes it)
  10 fragment gets         values of 2 KB to 20 KB
  one get_many             20 small records
  one incr                 a hit counter

and answers 3 bytes. It checks what it read (a miss, short read or error is a 500), and any
request ab counts as failed or non-2xx makes the row invalid: an erroring backend cannot look fast.

Backends (each as the "default" cache of its own gunicorn run; each on its own KEY_PREFIX):
  ours          redis_cache_go.RedisCache
  ours_local    redis_cache_go.RedisCache with OPTIONS LOCAL_CACHE (the near-cache), per process
  django_redis  django_redis.cache.RedisCache (hiredis parser)
  django        django.core.cache.backends.redis.RedisCache (redis-py; hiredis when installed)
  bare          bench/e2e_site/barecache.py, a reference: a minimal pure-Python backend (Django's key
                making, pickle, one blocking socket per thread, no checks, no pool); its ratio in our
                place shows what the page leaves a backend to win on this machine (bar e1)
  bare_local    the same with a perfect near-cache (Python objects kept forever, nothing invalidated,
                not even unpickled again): only the session save and the incr reach Redis; the most
                a near-cache with two round trips per page could reach (bar e2)
  locmem        django.core.cache.backends.locmem.LocMemCache: no network at all, the ceiling

Worker classes: sync (2 workers) and gthread (2 workers x 4 threads). Load: `ab -c 4` without
keep-alive. gunicorn's sync workers close the connection after every response whatever the client
asks, so keep-alive would help gthread only and skew the comparison between the two classes; without
it every request of both pays one loopback TCP connect, as behind a proxy that does not pool.
Each cell: gunicorn started and its page checked once, `ab -t WARMUP` thrown away, `ab -t SECONDS`
measured, gunicorn stopped. Rounds are interleaved: every round runs every cell once, and the order
rotates from round to round. Reported per cell: the median over rounds of requests/s and of ab's
"99%" percentile (whole milliseconds, as ab prints it).

    make bench-e2e                     # installs ab (apt apache2-utils) when missing
    .venv/bin/python bench/e2e.py [--rounds 3] [--seconds 3] [--warmup 1] [--backends ours,locmem]

The workers import redis_cache_go from python/ and load the Go library from build/ (make build),
copied to a temporary directory first so a rebuild cannot change it under a running worker;
RCG_LIBRARY, when set, names another library. Results: bench/results_e2e.json; a measured run and
what it suggests: bench/e2e.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for _p in (os.path.join(REPO, "tests", "harness"), HERE):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from redisproc import RedisServer, RedisServerError, free_port  # noqa: E402
from machine import cpu_model  # noqa: E402

from e2e_site.workload import SESSION_COOKIE, SESSION_KEY  # noqa: E402  (plain constants, no Django)

LIBNAME = "libredis_cache_go.so"

# --------------------------------------------------------------------------------------------
# What is compared

BACKENDS: dict[str, dict[str, Any]] = {
    "ours": {
        "label": "redis_cache_go",
        "cache": lambda srv: {"BACKEND": "redis_cache_go.RedisCache", "LOCATION": srv.location,
                              "OPTIONS": {"DB": 0}, "KEY_PREFIX": "e2o"},
    },
    "ours_local": {
        "label": "redis_cache_go +LOCAL_CACHE",
        "cache": lambda srv: {"BACKEND": "redis_cache_go.RedisCache", "LOCATION": srv.location,
                              "OPTIONS": {"DB": 0, "LOCAL_CACHE": {"MAX_ENTRIES": 10000}},
                              "KEY_PREFIX": "e2l"},
    },
    "django_redis": {
        "label": "django-redis",
        "cache": lambda srv: {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": srv.url,
                              "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient",
                                          "PARSER_CLASS": "redis.connection._HiredisParser"},
                              "KEY_PREFIX": "e2r"},
    },
    "django": {
        "label": "Django RedisCache",
        "cache": lambda srv: {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": srv.url,
                              "OPTIONS": {}, "KEY_PREFIX": "e2d"},
    },
    # References for the bars (bench/e2e_site/barecache.py): a minimal pure-Python backend.
    "bare": {
        "label": "bare socket (reference)",
        "cache": lambda srv: {"BACKEND": "e2e_site.barecache.BareSocketCache", "LOCATION": srv.location,
                              "KEY_PREFIX": "e2b"},
    },
    "bare_local": {
        "label": "bare socket +perfect near-cache (reference)",
        "cache": lambda srv: {"BACKEND": "e2e_site.barecache.BareSocketCache", "LOCATION": srv.location,
                              "OPTIONS": {"LOCAL": True}, "KEY_PREFIX": "e2p"},
    },
    "locmem": {
        "label": "LocMemCache (ceiling)",
        "cache": lambda srv: {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "e2e",
                              "OPTIONS": {"MAX_ENTRIES": 10000}, "KEY_PREFIX": "e2m"},
    },
}
WORKERS: dict[str, dict[str, Any]] = {
    "sync": {"label": "sync, 2 workers", "args": ["--worker-class", "sync", "--workers", "2"]},
    "gthread": {"label": "gthread, 2 workers x 4 threads",
                "args": ["--worker-class", "gthread", "--workers", "2", "--threads", "4"]},
}
# (bar id, what, worker class, backend, against, target): ratios of median requests/s
BARS = [("e1", "ours (no LOCAL_CACHE) >= 2x django-redis requests/s", "ours", "django_redis", 2.0),
        ("e2", "ours with LOCAL_CACHE >= 0.8x LocMem requests/s", "ours_local", "locmem", 0.8)]
# per bar: the reference backend whose ratio in place of ours is printed beside the bar
REFERENCES = {"e1": "bare", "e2": "bare_local"}

# --------------------------------------------------------------------------------------------
# Processes: gunicorn in its own process group, ab, and their teardown


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when this process dies (Linux), so a bench killed with
    SIGKILL leaves no gunicorn master or ab behind (the workers leave when their master is gone)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


class StartError(RuntimeError):
    """gunicorn did not come up, or its page did not answer 200 "ok"."""


class Gunicorn:
    """One gunicorn master and its workers, in a new session (process group = the master's pid)."""

    def __init__(self, cache: dict[str, Any], worker: str, env: dict[str, str], logdir: str, tag: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = os.path.join(logdir, f"gunicorn-{tag}.log")
        self.args = [sys.executable, "-m", "gunicorn", "e2e_site.wsgi:application",
                     "--bind", f"127.0.0.1:{self.port}", *WORKERS[worker]["args"],
                     "--timeout", "30", "--graceful-timeout", "2", "--log-level", "warning"]
        if os.path.isdir("/dev/shm"):
            self.args += ["--worker-tmp-dir", "/dev/shm"]  # the workers' heartbeat files, off the disk
        self.env = {**env, "E2E_CACHE": json.dumps(cache)}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> float:
        """Start it and wait until the page answers 200 "ok"; returns the seconds that took."""
        t0 = time.monotonic()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.args, cwd=HERE, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        req = urllib.request.Request(self.url, headers={"Cookie": f"{SESSION_COOKIE}={SESSION_KEY}"})
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise StartError(f"gunicorn exited with {self.proc.returncode}: {self.last_error()}")
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    body = r.read()
                if body != b"ok\n":
                    raise StartError(f"the page answered {body[:200]!r}")
                return time.monotonic() - t0
            except urllib.error.HTTPError as e:
                raise StartError(f"the page answered {e.code}: {e.read()[:200].decode(errors='replace').strip()}") from None
            except OSError:
                time.sleep(0.05)
        raise StartError(f"gunicorn did not answer within {timeout:g} s")

    def last_error(self) -> str:
        """The last exception line of the log (a worker's traceback), else its last line."""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                lines = [line.strip() for line in f if line.strip()]
        except OSError:
            return "(no log)"
        for line in reversed(lines):
            if re.match(r"^[\w.]+(Error|Exception|Interrupted)\b", line):
                return line[:300]
        return lines[-1][:300] if lines else "(log empty)"

    def log_tail(self, n: int = 20) -> str:
        """The log's last n distinct lines, in the order of their last occurrence, each repeated
        line shown once with its count (a page failing thousands of times logs the same lines)."""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return "      (no log)"
        count: dict[str, int] = {}
        for line in lines:
            count[line] = count.pop(line, 0) + 1  # re-inserted: dict order = order of last occurrence
        out = [f"      {line}" + (f"   [x{k}]" if k > 1 else "") for line, k in list(count.items())[-n:]]
        return "\n".join(out) or "      (log empty)"

    def stop(self) -> None:
        """Graceful shutdown of the whole group (SIGTERM: a request in flight is finished), SIGKILL for
        what is left after 5 s."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 5
        while _group_alive(pgid) and time.monotonic() < deadline:  # workers still exiting
            time.sleep(0.02)
        if _group_alive(pgid):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None


LIVE: list[Gunicorn] = []                         # started and not yet stopped, for the finally
AB_PROCS: list[subprocess.Popen[str]] = []


def run_ab(url: str, seconds: int, concurrency: int, csv_path: str) -> dict[str, Any]:
    """One ab run of `seconds` (ab's -t takes whole seconds), parsed. -r: a receive error is
    counted as a failed request instead of ending the run."""
    # -n only caps the count (ab allocates its statistics for -n requests up front): 20,000/s is
    # several times what the fastest cell serves on 2 CPUs; -t ends the run.
    args = ["ab", "-r", "-s", "20", "-t", str(seconds), "-n", str(max(50000, 20000 * seconds)), "-c", str(concurrency),
            "-C", f"{SESSION_COOKIE}={SESSION_KEY}", "-e", csv_path, url]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_die_with_parent)
    AB_PROCS.append(proc)
    try:
        out, err = proc.communicate(timeout=seconds + 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        AB_PROCS.remove(proc)
    got = parse_ab(out)
    got["rc"] = proc.returncode
    try:
        with open(csv_path, encoding="ascii") as f:
            pct = dict(line.strip().split(",", 1) for line in f if line[:1].isdigit())
        got["p99_ms_csv"] = float(pct["99"])
    except (OSError, KeyError, ValueError):
        got["p99_ms_csv"] = None
    problems = []
    if proc.returncode != 0:
        problems.append(f"ab exited with {proc.returncode}: {(err or out).strip()[-300:]}")
    if not got.get("complete"):
        problems.append("no complete request")
    for k in ("failed", "non2xx", "write_errors"):
        if got.get(k):
            problems.append(f"{got[k]} {k.replace('_', ' ').replace('non2xx', 'non-2xx')}")
    if got.get("rps") is None or got.get("p99_ms") is None:
        problems.append("ab's report not understood")
    got["valid"] = not problems
    got["problems"] = problems
    return got


def _num(pattern: str, text: str, kind: Callable[[str], Any] = int, default: Any = None) -> Any:
    m = re.search(pattern, text, re.M)
    return kind(m.group(1)) if m else default


def parse_ab(text: str) -> dict[str, Any]:
    got: dict[str, Any] = {
        "complete": _num(r"^Complete requests:\s+(\d+)", text),
        "failed": _num(r"^Failed requests:\s+(\d+)", text),
        "non2xx": _num(r"^Non-2xx responses:\s+(\d+)", text, default=0),  # printed only when not 0
        "write_errors": _num(r"^Write errors:\s+(\d+)", text, default=0),
        "rps": _num(r"^Requests per second:\s+([\d.]+)", text, float),
        "seconds": _num(r"^Time taken for tests:\s+([\d.]+)", text, float),
        "p50_ms": _num(r"^\s+50%\s+(\d+)", text),
        "p99_ms": _num(r"^\s+99%\s+(\d+)", text),
    }
    m = re.search(r"\(Connect: (\d+), Receive: (\d+), Length: (\d+), Exceptions: (\d+)\)", text)
    if m:
        got["failed_by_kind"] = dict(zip(("connect", "receive", "length", "exceptions"), map(int, m.groups())))
    return got


# --------------------------------------------------------------------------------------------
# Machine and versions


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def git_rev() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", REPO, *args], capture_output=True, text=True, timeout=10).stdout.strip()
    try:
        return {"rev": git("rev-parse", "--short", "HEAD") or None,
                "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except Exception:
        return {"rev": None, "dirty": None}


def versions(srv: RedisServer) -> dict[str, str]:
    from importlib import metadata
    out = {"python": platform.python_version()}
    for dist in ("Django", "gunicorn", "django-redis", "redis", "hiredis"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    try:
        with open(os.path.join(REPO, "core", "version", "VERSION"), encoding="utf-8") as f:
            out["redis-cache-go"] = f.read().strip()
    except OSError:
        pass
    try:
        info = srv.command("INFO", "server")
        text = info.decode() if isinstance(info, bytes) else str(info)
        out["redis-server"] = next(line.split(":", 1)[1].strip() for line in text.splitlines()
                                   if line.startswith("redis_version:"))
    except Exception:
        pass
    try:
        first = subprocess.run(["ab", "-V"], capture_output=True, text=True, timeout=10).stdout.splitlines()[0]
        out["ab"] = first.replace("This is ApacheBench, Version ", "").replace(" <$Revision$>", "").strip()
    except Exception:
        pass
    return out


def snapshot_library(tmp: str) -> tuple[str, str]:
    """(source, copy): the library the workers load, copied into tmp."""
    src = os.environ.get("RCG_LIBRARY") or os.path.join(REPO, "build", LIBNAME)
    if not os.path.exists(src):
        raise FileNotFoundError(f"{src} does not exist: run `make build` (or set RCG_LIBRARY)")
    dst = os.path.join(tmp, LIBNAME)
    shutil.copy2(src, dst)
    return src, dst


# --------------------------------------------------------------------------------------------
# Report


def summarize(cells: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    """One row: medians over the rounds; invalid when any round failed or is missing."""
    ok = [c for c in cells if c.get("valid")]
    problems = [f"round {c['round'] + 1}: {'; '.join(c.get('problems') or [c.get('error') or '?'])}"
                for c in cells if not c.get("valid")]
    if len(cells) < rounds:
        problems.append(f"{rounds - len(cells)} of {rounds} rounds not run")
    rps = [c["rps"] for c in ok]
    p99 = [c["p99_ms"] for c in ok]
    return {
        "valid": not problems and bool(ok),
        "problems": problems,
        "rounds_ok": len(ok),
        "rps_median": round(statistics.median(rps), 1) if rps else None,
        "rps_min": round(min(rps), 1) if rps else None,
        "rps_max": round(max(rps), 1) if rps else None,
        "p99_ms_median": statistics.median(p99) if p99 else None,
        "p50_ms_median": statistics.median([c["p50_ms"] for c in ok]) if ok else None,
        "p99_ms_csv_median": (round(statistics.median(v), 2)
                              if (v := [c["p99_ms_csv"] for c in ok if c.get("p99_ms_csv") is not None]) else None),
        "requests": sum(c.get("complete") or 0 for c in cells),
        "failed": sum(c.get("failed") or 0 for c in cells),
        "non2xx": sum(c.get("non2xx") or 0 for c in cells),
    }


def print_table(summary: dict[str, dict[str, dict[str, Any]]], workers: list[str], backends: list[str],
                rounds: int) -> None:
    head = ("worker class", "backend", "req/s", "spread", "p50 ms", "p99 ms", "x LocMem", "rounds ok", "note")
    rows = []
    for w in workers:
        ceiling = summary[w].get("locmem", {})
        for b in backends:
            s = summary[w][b]
            if s["valid"]:
                x = (f"{s['rps_median'] / ceiling['rps_median']:.2f}x"
                     if ceiling.get("valid") and ceiling.get("rps_median") else "-")
                rows.append((w, BACKENDS[b]["label"], f"{s['rps_median']:,.0f}",
                             f"{s['rps_min']:,.0f}-{s['rps_max']:,.0f}", f"{s['p50_ms_median']:g}",
                             f"{s['p99_ms_median']:g}", x, f"{s['rounds_ok']}/{rounds}", ""))
            else:
                note = (f"INVALID: {s['failed']} failed, {s['non2xx']} non-2xx requests" if s["failed"] or s["non2xx"]
                        else "INVALID: see below")
                rows.append((w, BACKENDS[b]["label"], "-", "-", "-", "-", "-", f"{s['rounds_ok']}/{rounds}", note))
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    right = {2, 3, 4, 5, 6, 7}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join((c.rjust(widths[i]) if i in right else c.ljust(widths[i])) for i, c in enumerate(cells)).rstrip()
    print(line(head))
    print("  ".join("-" * w for w in widths))
    last = None
    for r in rows:
        if last is not None and r[0] != last:
            print()
        last = r[0]
        print(line(r))
    print()
    print("req/s = median over rounds of ab's requests/s; spread = slowest and fastest round; "
          "p50/p99 = medians over rounds of ab's percentile table (whole ms); x LocMem = req/s / LocMemCache's")
    for w in workers:
        for b in backends:
            for p in summary[w][b]["problems"]:
                print(f"  {w} / {BACKENDS[b]['label']}: {p}")


def evaluate_bars(summary: dict[str, dict[str, dict[str, Any]]], workers: list[str]) -> list[dict[str, Any]]:
    out = []
    for bid, what, ours, against, target in BARS:
        for w in workers:
            mine, theirs = summary.get(w, {}).get(ours), summary.get(w, {}).get(against)
            why = None
            if mine is None or theirs is None:
                why = f"{ours if mine is None else against} not run"
            elif not mine["valid"]:
                why = f"{BACKENDS[ours]['label']} row invalid"
            elif not theirs["valid"]:
                why = f"{BACKENDS[against]['label']} row invalid"
            ratio = mine["rps_median"] / theirs["rps_median"] if (mine and theirs and why is None) else None
            ref = summary.get(w, {}).get(REFERENCES[bid])
            ref_ratio = (ref["rps_median"] / theirs["rps_median"]
                         if ref and ref["valid"] and theirs and theirs["valid"] else None)
            out.append({"bar": bid, "worker": w, "what": f"{w}: {what}", "ours": ours, "against": against,
                        "ratio": round(ratio, 3) if ratio else None, "target": target,
                        "holds": (ratio >= target) if ratio else None, "why_not_measured": why,
                        "reference": REFERENCES[bid], "reference_ratio": round(ref_ratio, 3) if ref_ratio else None})
    return out


def print_bars(bars: list[dict[str, Any]], command: str) -> None:
    print()
    print(f"End-to-end bars (ratios of median requests/s from this one run: {command})")
    w = max(len(b["what"]) for b in bars) if bars else 0
    for b in bars:
        if b["ratio"] is None:
            verdict, ratio, note = "NOT MEASURED", "   -  ", f"  ({b['why_not_measured']})"
        else:
            verdict = "holds" if b["holds"] else "MISSED"
            ratio = f"{b['ratio']:5.2f}x"
            if f"{b['ratio']:.2f}" == f"{b['target']:.2f}":  # on the line: 3 digits say which side
                ratio = f"{b['ratio']:.3f}x"
            note = f"  (vs {BACKENDS[b['against']]['label']})"
        if b.get("reference_ratio"):
            note += f"; {BACKENDS[b['reference']]['label']} in our place: {b['reference_ratio']:.2f}x"
        print(f"  {b['bar']:<4} {b['what']:<{w}}  {ratio}  {verdict}{note}")


# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--seconds", type=int, default=3, help="measured ab time per cell, whole seconds (default 3)")
    p.add_argument("--warmup", type=int, default=1, help="ab warm-up per cell, whole seconds, thrown away (default 1)")
    p.add_argument("--concurrency", type=int, default=4, help="ab -c (default 4)")
    p.add_argument("--backends", default=",".join(BACKENDS), help=f"comma-separated, of {', '.join(BACKENDS)}")
    p.add_argument("--workers", default=",".join(WORKERS), help=f"comma-separated, of {', '.join(WORKERS)}")
    p.add_argument("--json", default=os.path.join(HERE, "results_e2e.json"), help="results file")
    p.add_argument("--log-dir", help="keep every cell's gunicorn log in this directory (default: a temporary "
                   "directory, removed at the end; the last lines of a failing cell's log are printed either way)")
    a = p.parse_args(argv)
    a.backend_list = [b.strip() for b in a.backends.split(",") if b.strip()]
    a.worker_list = [w.strip() for w in a.workers.split(",") if w.strip()]
    for b in a.backend_list:
        if b not in BACKENDS:
            p.error(f"unknown backend {b!r} (known: {', '.join(BACKENDS)})")
    for w in a.worker_list:
        if w not in WORKERS:
            p.error(f"unknown worker class {w!r} (known: {', '.join(WORKERS)})")
    if a.rounds < 1 or a.seconds < 1 or a.warmup < 0 or a.concurrency < 1:
        p.error("--rounds, --seconds and --concurrency must be >= 1, --warmup >= 0")
    return a


def _on_signal(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    if shutil.which("ab") is None:
        print("ab (ApacheBench) is not on PATH: `make bench-e2e` installs it "
              "(tools/prereqs.sh ab; Debian package apache2-utils)", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    t_begin = time.monotonic()
    command = " ".join(["bench/e2e.py", *(argv if argv is not None else sys.argv[1:])])
    tmp = tempfile.mkdtemp(prefix="rcg-e2e-")
    srv: RedisServer | None = None
    cells: list[dict[str, Any]] = []
    meta: dict[str, Any] = {}
    try:
        if a.log_dir:
            os.makedirs(a.log_dir, exist_ok=True)
        lib_src, lib_copy = snapshot_library(tmp)
        srv = RedisServer().start()
        env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "E2E_CACHE")}
        env.update({"PYTHONPATH": os.pathsep.join([os.path.join(REPO, "python"), HERE]),
                    "DJANGO_SETTINGS_MODULE": "e2e_site.settings", "RCG_LIBRARY": lib_copy,
                    "PYTHONDONTWRITEBYTECODE": "1"})
        git = git_rev()
        meta = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "git": git["rev"], "git_dirty": git["dirty"],
            "machine": {"cpu_model": cpu_model(), "cpus": os.cpu_count(), "kernel": platform.release(),
                        "loadavg_before": loadavg()},
            "versions": versions(srv),
            "library": {"source": lib_src, "loaded_from": lib_copy},
            "config": {"rounds": a.rounds, "seconds": a.seconds, "warmup_seconds": a.warmup,
                       "concurrency": a.concurrency, "keepalive": False,
                       "workers": {w: WORKERS[w] for w in a.worker_list},
                       "backends": {b: {"label": BACKENDS[b]["label"], "cache": BACKENDS[b]["cache"](srv)}
                                    for b in a.backend_list},
                       "order": "every round runs every cell once; round r starts r*cells/rounds cells further"},
        }
        v, m = meta["versions"], meta["machine"]
        print(f"redis-cache-go end-to-end bench  (git {meta['git'] or '?'}{'+dirty' if git['dirty'] else ''}; "
              f"Python {v['python']}, Django {v.get('Django')}, gunicorn {v.get('gunicorn')}, "
              f"django-redis {v.get('django-redis')}, redis-py {v.get('redis')}, hiredis {v.get('hiredis')}, "
              f"redis-server {v.get('redis-server')}, ours {v.get('redis-cache-go', '?')}, ab {v.get('ab', '?')})")
        print(f"machine: {m['cpu_model']}, {m['cpus']} CPUs; load average {m['loadavg_before']} (before)")
        print("page: session load + save (get, get, set), 10 fragment gets of 2-20 KB, get_many of 20, incr; "
              "answer 3 bytes")
        print(f"load: ab -c {a.concurrency}, no keep-alive, {a.warmup} s warm-up + {a.seconds} s measured per cell; "
              f"{a.rounds} interleaved rounds; fresh gunicorn per cell "
              f"({'; '.join(WORKERS[w]['label'] for w in a.worker_list)}); redis-server {srv.location}")
        print(f"library: {os.path.relpath(lib_src, REPO) if lib_src.startswith(REPO) else lib_src} (copied)", flush=True)
        print()

        plan = [(w, b) for w in a.worker_list for b in a.backend_list]
        for r in range(a.rounds):
            shift = (r * len(plan)) // a.rounds
            for w, b in plan[shift:] + plan[:shift]:
                cell: dict[str, Any] = {"round": r, "worker": w, "backend": b}
                cells.append(cell)
                tag = f"r{r + 1}-{w}-{b}"
                g = Gunicorn(BACKENDS[b]["cache"](srv), w, env, a.log_dir or tmp, tag)
                LIVE.append(g)
                print(f"round {r + 1}/{a.rounds}  {w:<8} {BACKENDS[b]['label']:<28}", end="", flush=True)
                try:
                    try:
                        cell["start_s"] = round(g.start(), 2)
                    except StartError:
                        if "Address already in use" not in g.log_tail(50):
                            raise
                        g.stop()  # the port was taken after free_port() picked it: once more on another
                        LIVE.remove(g)
                        g = Gunicorn(BACKENDS[b]["cache"](srv), w, env, a.log_dir or tmp, tag + "-again")
                        LIVE.append(g)
                        cell["start_s"] = round(g.start(), 2)
                    if a.warmup:
                        warm = run_ab(g.url, a.warmup, a.concurrency, os.path.join(tmp, f"{tag}-warm.csv"))
                        cell["warmup"] = {k: warm.get(k) for k in ("complete", "failed", "non2xx", "rps", "valid")}
                    got = run_ab(g.url, a.seconds, a.concurrency, os.path.join(tmp, f"{tag}.csv"))
                    cell.update(got)
                    if cell["valid"] and (cell.get("warmup") or {}).get("valid") is False:
                        cell["valid"] = False  # the warm-up already had failed requests
                        cell["problems"].append(f"warm-up: {cell['warmup']['failed']} failed, "
                                                f"{cell['warmup']['non2xx']} non-2xx")
                except Exception as e:
                    cell.update({"valid": False, "error": str(e) if isinstance(e, StartError) else
                                 f"{type(e).__name__}: {e}", "problems": []})
                finally:
                    t_stop = time.monotonic()
                    g.stop()
                    LIVE.remove(g)
                    cell["stop_s"] = round(time.monotonic() - t_stop, 2)
                if cell.get("valid"):
                    print(f"{cell['rps']:8,.0f} req/s  p99 {cell['p99_ms']:>3} ms  "
                          f"({cell['complete']:,} requests; started in {cell['start_s']:.1f} s)", flush=True)
                else:
                    why = "; ".join(cell.get("problems") or []) or cell.get("error", "?")
                    print(f"  INVALID: {why}", flush=True)
                    cell["log_tail"] = g.log_tail(15)
                    print(f"    gunicorn log ({os.path.basename(g.log_path)}), last lines:\n{cell['log_tail']}", flush=True)
        meta["machine"]["loadavg_after"] = loadavg()
    except KeyboardInterrupt:
        print("\ninterrupted; gunicorn and redis-server stopped, no results written", file=sys.stderr)
        return 130
    except (RedisServerError, FileNotFoundError) as e:
        print(f"\ncannot run: {e}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for p in list(AB_PROCS):
            if p.poll() is None:
                p.kill()
                p.wait()
        for g in list(LIVE):
            g.stop()
        if srv is not None:
            srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    summary = {w: {b: summarize([c for c in cells if c["worker"] == w and c["backend"] == b], a.rounds)
                   for b in a.backend_list} for w in a.worker_list}
    print()
    print_table(summary, a.worker_list, a.backend_list, a.rounds)
    bars = evaluate_bars(summary, a.worker_list)
    print_bars(bars, command)
    elapsed = round(time.monotonic() - t_begin, 1)
    print(f"\nload average {meta['machine']['loadavg_before']} before, {meta['machine']['loadavg_after']} after "
          f"({os.cpu_count()} CPUs: {meta['machine']['cpu_model']}); {elapsed} s")

    out = {"meta": {**meta, "elapsed_s": elapsed, "command": command}, "summary": summary, "bars": bars,
           "cells": cells}
    try:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1, default=str)
            f.write("\n")
        print(f"results: {os.path.relpath(a.json)}")
    except OSError as e:
        print(f"cannot write {a.json}: {e}", file=sys.stderr)
        return 1
    invalid = [(w, b) for w in a.worker_list for b in a.backend_list if not summary[w][b]["valid"]]
    if invalid:
        print("\nFAILED: invalid rows (failed requests, errors or missing rounds): "
              + ", ".join(f"{w}/{BACKENDS[b]['label']}" for w, b in invalid), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
