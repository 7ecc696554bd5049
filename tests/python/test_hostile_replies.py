"""A server reply that breaks RESP or its limits fails the call with ConnectionError, and the
connection it came on is dropped: the next call works, on a fresh connection.

The replies come from a small loopback proxy in front of the session's real redis-server: it
forwards every command except the first one that names the key ``hostile``, which it answers
itself with a reply a real Redis never sends.
"""
from __future__ import annotations

import socket
import threading

import pytest

from loopback import LoopbackServer
from redis_cache_go import exceptions

DEEP = 20_000_000  # arrays nested this deep: the reader must stop after a few levels


class HostileProxy(LoopbackServer):
    """Forwards to upstream; the first command containing b"hostile" gets ``reply`` instead."""

    def __init__(self, upstream: tuple[str, int], reply: bytes, repeat: int = 1) -> None:
        super().__init__("hostile-proxy")
        self.upstream = upstream
        self.reply, self.repeat = reply, repeat
        self.accepted = 0
        self.answered = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []

    def stop(self) -> None:
        super().stop()
        with self._lock:
            sockets = list(self._sockets)
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv on it (close alone does not)
            except OSError:
                pass
            s.close()

    def _accepted(self, client: socket.socket, peer: object) -> None:
        up = socket.create_connection(self.upstream)
        with self._lock:
            self.accepted += 1
            self._sockets += [client, up]
        threading.Thread(target=self._pump, args=(up, client), daemon=True).start()
        threading.Thread(target=self._requests, args=(client, up), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass

    def _requests(self, client: socket.socket, up: socket.socket) -> None:
        try:
            while data := client.recv(65536):
                with self._lock:
                    hostile = b"hostile" in data and not self.answered
                    self.answered = self.answered or hostile
                if not hostile:
                    up.sendall(data)
                    continue
                block = self.reply * max(1, 65536 // len(self.reply))
                per_block = len(block) // len(self.reply)
                for _ in range(0, self.repeat, per_block):  # until the client hangs up
                    client.sendall(block)
        except OSError:
            pass


@pytest.mark.parametrize(
    "op, reply, repeat",
    [
        ("get", b"$9999999999999999999\r\n", 1),  # wrapped to a negative length: read as a miss
        ("get", b"*1\r\n", DEEP),  # overflowed the goroutine stack: the process aborted
        ("get", b"*1\r\n*1\r\n*1\r\n$9999999999\r\n", 1),  # discarded "10 GB" until the timeout
        ("get_many", b"*2\r\n*1\r\n$1\r\nx\r\n$1\r\ny\r\n", 1),  # an array item: read as a miss
        ("get_many", b"*2\r\n:7\r\n$1\r\ny\r\n", 1),  # an integer item: read as a miss
    ],
    ids=["int64 overflow", "20M nested arrays", "10 GB three arrays deep", "MGET array item", "MGET integer item"],
)
def test_hostile_reply_is_a_connection_error_and_the_next_call_works(make_cache, redis_server, op, reply, repeat):
    proxy = HostileProxy((redis_server.host, redis_server.port), reply, repeat).start()
    try:
        cache = make_cache(location=proxy.location, options={"DB": 0, "SOCKET_TIMEOUT": 30})
        cache.set("fine", 42)
        with pytest.raises(exceptions.ConnectionError, match="protocol error"):
            if op == "get":
                cache.get("hostile")
            else:
                cache.get_many(["hostile", "fine"])
        accepted = proxy.accepted
        assert cache.get("fine") == 42
        assert cache.get_many(["fine", "nope"]) == {"fine": 42}
        assert proxy.accepted == accepted + 1, "the connection that read the bad reply was reused"
    finally:
        proxy.stop()
