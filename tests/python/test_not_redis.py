"""A LOCATION that points at something that is not Redis: the error says so.

The peers here are small loopback servers that answer whatever they receive with another
protocol's bytes and close, as a web server or a TLS port on the cache's port would (a real Redis
never sends these). Every kind of call, through the raw connection (get, set, get_many, incr) and
through go-redis (the PING of ``manage.py redis_cache ping``), with and without the AUTH/SELECT
handshake, must name the problem instead of a bare "EOF".
"""
from __future__ import annotations

import socket
import threading
from typing import Any, Callable, Iterator

import pytest

from redis_cache_go import RedisCache
from redis_cache_go import exceptions as exc

REPLIES = {
    # a web server answering a request line it cannot parse
    "http/1.1": b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    # Python's http.server answers "*2" as an HTTP/0.9 request: a bare body, lines ending in \n only
    "http/0.9": b"<!DOCTYPE HTML>\n<html><body>Bad request</body></html>\n",
}


@pytest.fixture(params=sorted(REPLIES))
def not_redis(request: pytest.FixtureRequest) -> Iterator[str]:
    """host:port of a loopback peer that answers every connection with REPLIES[param] and closes."""
    reply = REPLIES[request.param]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.recv(65536)
                    conn.sendall(reply)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        try:
            listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (close alone does not)
        except OSError:
            pass
        listener.close()
        thread.join(timeout=10)
        assert not thread.is_alive()


CALLS: dict[str, Callable[[Any], Any]] = {
    "get": lambda c: c.get("k"),
    "set": lambda c: c.set("k", 1),
    "get_many": lambda c: c.get_many(["a", "b"]),
    "incr": lambda c: c.incr("n"),
    "ping": lambda c: c._client.server_command(0, [b"PING"]),
}


@pytest.mark.parametrize("db", [0, 1])  # 1: the connection starts with SELECT
@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_peer_that_is_not_redis_is_named_as_such(not_redis: str, call: str, db: int) -> None:
    cache = RedisCache(not_redis, {"OPTIONS": {"DB": db, "SOCKET_TIMEOUT": 5, "SOCKET_CONNECT_TIMEOUT": 5}})
    try:
        with pytest.raises(exc.ConnectionError) as info:
            CALLS[call](cache)
    finally:
        cache.disconnect()
    message = str(info.value)
    assert "does not speak the Redis protocol" in message, message
    assert f"redis {not_redis} db {db}" in message  # the server, as every error names it
    assert not message.endswith("EOF")
