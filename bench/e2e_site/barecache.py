"""A minimal pure-Python cache backend, for the end-to-end bench only (bench/e2e.py backends "bare"
and "bare_local"): a reference for the bars of issue 18, showing what the page leaves a backend to
win on the machine at hand. (Not a bound: ours, doing its I/O in Go without the GIL, beats it.)

BareSocketCache: Django's key making, pickle (ints raw, as ours), one blocking socket per thread
with TCP_NODELAY, the command written with one send and its reply read with as few recv calls as
its length needs; no pool, no retry, no timeout handling, no error classes, no validation beyond
Django's key check. It implements only what the page and its session backend call (get, set, add,
delete, get_many, set_many, incr).

With OPTIONS {"LOCAL": True} it is a perfect near-cache as well: every value it read or wrote is
kept in process memory forever (nothing invalidates it: correct here only because the page's
reads are of keys nobody else changes, and each worker's session writes are its own), so a page
reaches Redis only for what must: the session save and the incr.
"""
from __future__ import annotations

import pickle
import socket
import threading
import time
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache


class BareSocketCache(BaseCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        host, port = server.rsplit(":", 1)
        self._addr = (host, int(port))
        self._local_values: dict[str, Any] | None = {} if params.get("OPTIONS", {}).get("LOCAL") else None
        self._tls = threading.local()

    # -- the wire ---------------------------------------------------------------------------------
    def _sock(self) -> socket.socket:
        s = getattr(self._tls, "sock", None)
        if s is None:
            s = socket.create_connection(self._addr)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._tls.sock, self._tls.buf = s, b""
        return s

    def _call(self, *args: bytes) -> Any:
        s = self._sock()
        s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
        reply, self._tls.buf = self._parse(s, self._tls.buf, 0)
        return reply

    def _parse(self, s: socket.socket, buf: bytes, at: int) -> tuple[Any, bytes]:
        """One reply from buf[at:] (reading more as needed): (value, the bytes after it)."""
        while b"\r\n" not in buf[at:]:
            buf += s.recv(1 << 16)
        end = buf.index(b"\r\n", at)
        kind, line = buf[at:at + 1], buf[at + 1:end]
        rest = end + 2
        if kind == b"$":
            n = int(line)
            if n < 0:
                return None, buf[rest:]
            while len(buf) < rest + n + 2:
                buf += s.recv(max(1 << 16, rest + n + 2 - len(buf)))
            return buf[rest:rest + n], buf[rest + n + 2:]
        if kind == b":":
            return int(line), buf[rest:]
        if kind == b"+":
            return line, buf[rest:]
        if kind == b"*":
            items, buf = [], buf[rest:]
            for _ in range(int(line)):
                item, buf = self._parse(s, buf, 0)
                items.append(item)
            return items, buf
        raise RuntimeError(line.decode())

    # -- values as ours stores them: ints raw, else pickle --------------------------------------
    @staticmethod
    def _dumps(value: Any) -> bytes:
        if type(value) is int:
            return str(value).encode()
        return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def _loads(data: bytes) -> Any:
        if data[:1] != b"\x80":
            return int(data)
        return pickle.loads(data)

    def _ttl(self, timeout: Any) -> list[bytes]:
        t = self.get_backend_timeout(timeout)
        return [] if t is None else [b"PX", str(max(1, int((t - time.time()) * 1000))).encode()]

    # -- the calls the page makes -----------------------------------------------------------------
    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        k = self.make_and_validate_key(key, version=version)
        local = self._local_values
        if local is not None and k in local:
            return local[k]
        data = self._call(b"GET", k.encode())
        if data is None:
            return default
        value = self._loads(data)
        if local is not None:
            local[k] = value
        return value

    def set(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        k = self.make_and_validate_key(key, version=version)
        self._call(b"SET", k.encode(), self._dumps(value), *self._ttl(timeout))
        if self._local_values is not None:
            self._local_values[k] = value

    def add(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        k = self.make_and_validate_key(key, version=version)
        return self._call(b"SET", k.encode(), self._dumps(value), *self._ttl(timeout), b"NX") is not None

    def delete(self, key: str, version: int | None = None) -> bool:
        k = self.make_and_validate_key(key, version=version)
        if self._local_values is not None:
            self._local_values.pop(k, None)
        return bool(self._call(b"DEL", k.encode()))

    def get_many(self, keys: Any, version: int | None = None) -> dict[str, Any]:
        made = {self.make_and_validate_key(k, version=version): k for k in keys}
        local = self._local_values
        if local is not None and all(m in local for m in made):
            return {made[m]: local[m] for m in made}
        values = self._call(b"MGET", *(m.encode() for m in made))
        out = {made[m]: self._loads(v) for m, v in zip(made, values) if v is not None}
        if local is not None:
            local.update((m, out[made[m]]) for m in made if made[m] in out)
        return out

    def set_many(self, data: dict[str, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list[str]:
        for key, value in data.items():
            self.set(key, value, timeout, version)
        return []

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        k = self.make_and_validate_key(key, version=version)
        return int(self._call(b"INCRBY", k.encode(), str(delta).encode()))
