"""A loopback TCP proxy in front of a real redis-server that can break a connection the way a
``CLIENT KILL``, a proxy restart or a load balancer's idle reaper does, at a chosen moment.

It listens from construction on. ``drop_next()`` arms it: the next chunk any client sends is
forwarded to the server, the server's reply is awaited (so the command did run) and thrown away,
and that client's connection is closed instead, with a FIN (the client reads EOF) or, with
``reset=True``, an RST (ECONNRESET). Every other byte is relayed unchanged. ``accepted`` counts the client connections it took, so a test can
see whether a call dialled again. One thread serves the listener and every connection (a
selector); loopback only.
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
        self._wake, self._woken = socket.socketpair()  # stop() writes to _wake
        self._thread = threading.Thread(target=self._run, name="dropproxy", daemon=True)
        self._thread.start()

    def drop_next(self, reset: bool = False) -> None:
        """Drop the connection that sends the next command, after the server has answered it."""
        with self._lock:
            self._armed = reset

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

    @property
    def location(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> "DropProxy":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Close the listener and every connection."""
        self._wake.send(b"x")
        self._thread.join(10)
        self._wake.close()

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._listener, selectors.EVENT_READ, "listener")
        sel.register(self._woken, selectors.EVENT_READ, "stop")
        peer: dict[socket.socket, socket.socket] = {}  # each side of a connection -> the other side
        swallow: dict[socket.socket, bool] = {}  # upstream -> reset flag: its next reply is dropped

        def close(*socks: socket.socket) -> None:
            for s in socks:
                sel.unregister(s)
                peer.pop(s, None)
                swallow.pop(s, None)
                s.close()

        try:
            while True:
                for key, _ in sel.select():
                    src: socket.socket = key.fileobj  # type: ignore[assignment]
                    if key.data == "stop":
                        return
                    if key.data == "listener":
                        client, _ = src.accept()
                        try:
                            upstream = socket.create_connection(self.target)
                        except OSError:
                            client.close()
                            continue
                        peer[client], peer[upstream] = upstream, client
                        sel.register(client, selectors.EVENT_READ, "client")
                        sel.register(upstream, selectors.EVENT_READ, "upstream")
                        with self._lock:
                            self._accepted += 1
                        continue
                    if src not in peer:
                        continue  # closed earlier in this round
                    dst = peer[src]
                    try:
                        data = src.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        close(src, dst)
                    elif key.data == "client":
                        with self._lock:
                            if self._armed is not None and dst not in swallow:
                                swallow[dst], self._armed = self._armed, None
                        dst.sendall(data)
                    elif src in swallow:  # the server answered the armed command: drop the client
                        if swallow[src]:  # abortive close: the client gets an RST
                            dst.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        with self._lock:
                            self._dropped += 1
                        close(src, dst)
                    else:
                        dst.sendall(data)
        finally:
            close(*peer)
            sel.close()
            self._listener.close()
            self._woken.close()
