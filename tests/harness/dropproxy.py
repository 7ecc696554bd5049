"""A loopback TCP proxy in front of a real redis-server that can break a connection the way a
``CLIENT KILL``, a proxy restart or a load balancer's idle reaper does, at a chosen moment.

``drop_next()`` arms it: the next chunk any client sends is forwarded to the server, the server's
reply is awaited (so the command did run) and thrown away, and that client's connection is closed
instead, with a FIN (the client reads EOF) or, with ``reset=True``, an RST (ECONNRESET). Every
other byte is relayed unchanged. ``accepted`` counts the client connections it took, so a test can
see whether a call dialled again. One thread per connection (a selector over both sockets);
loopback only.
"""
from __future__ import annotations

import selectors
import socket
import struct
import threading


class DropProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._armed: bool | None = None  # None: pass through; else the reset flag of the next drop
        self._accepted = 0
        self._dropped = 0
        self._open: set[socket.socket] = set()
        self._accepter = threading.Thread(target=self._accept, name="dropproxy-accept", daemon=True)

    @property
    def location(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def accepted(self) -> int:
        """Client connections accepted so far."""
        with self._lock:
            return self._accepted

    @property
    def dropped(self) -> int:
        """Connections dropped by an armed drop so far."""
        with self._lock:
            return self._dropped

    def drop_next(self, reset: bool = False) -> None:
        """Drop the connection that sends the next command, after the server has answered it."""
        with self._lock:
            self._armed = reset

    def start(self) -> "DropProxy":
        self._accepter.start()
        return self

    def __enter__(self) -> "DropProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._listener.close()
        with self._lock:
            socks = list(self._open)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # stopped
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._accepted += 1
                self._open.update((client, upstream))
            threading.Thread(target=self._relay, args=(client, upstream), name="dropproxy-relay",
                             daemon=True).start()

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        sel.register(client, selectors.EVENT_READ)
        sel.register(upstream, selectors.EVENT_READ)
        swallow: bool | None = None  # set once this connection's reply is to be thrown away
        try:
            while True:
                for key, _ in sel.select():
                    src = key.fileobj
                    data = src.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    if src is client:
                        with self._lock:
                            if swallow is None and self._armed is not None:
                                swallow, self._armed = self._armed, None
                        upstream.sendall(data)
                    elif swallow is not None:
                        if swallow:  # abortive close: the client gets an RST
                            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        with self._lock:
                            self._dropped += 1
                        return
                    else:
                        client.sendall(data)
        except OSError:
            return
        finally:
            sel.close()
            with self._lock:
                self._open.difference_update((client, upstream))
            client.close()
            upstream.close()
