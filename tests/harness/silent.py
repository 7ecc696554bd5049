"""A loopback server that accepts connections and reads what clients send, but never answers.

It tells a test what reached it, without timing: ``settle()`` returns the commands received so far,
one list of command names per connection, in the order the connections were accepted. A client
that retries shows up as a second command or a second connection; a call refused before it touches
the network shows up as nothing.
"""
from __future__ import annotations

import socket
import threading

from loopback import LoopbackServer


class SilentServer(LoopbackServer):
    def __init__(self) -> None:
        super().__init__("silent")
        self._cond = threading.Condition()
        self._conns: list[socket.socket] = []
        self._peers: list[object] = []  # the client address of each accepted connection
        self._received: list[bytearray] = []

    def _accepted(self, conn: socket.socket, peer: object) -> None:
        conn.setblocking(False)
        with self._cond:
            self._conns.append(conn)
            self._peers.append(peer)
            self._received.append(bytearray())
            self._cond.notify_all()

    def settle(self, timeout: float = 30.0) -> list[list[str]]:
        """The command names each connection sent so far (connections in the order accepted).

        Everything a client wrote before this call is counted: a marker connection is made and,
        once it is accepted, every earlier connection has been accepted (the listen queue is
        first in, first out) and every byte written earlier is in the kernel's buffers.
        """
        marker = socket.create_connection(("127.0.0.1", self.port))
        try:
            local = marker.getsockname()
            with self._cond:
                found = self._cond.wait_for(lambda: local in self._peers, timeout)
                assert found, "the silent server never accepted its own marker connection"
                index = self._peers.index(local)
                self._conns.pop(index).close()
                del self._peers[index], self._received[index]
                for conn, buf in zip(self._conns[:index], self._received[:index]):
                    _drain(conn, buf)
                return [_command_names(bytes(buf)) for buf in self._received[:index]]
        finally:
            marker.close()

    def stop(self) -> None:
        super().stop()
        with self._cond:
            conns, self._conns = self._conns, []
        for c in conns:
            c.close()


def _drain(conn: socket.socket, buf: bytearray) -> None:
    """Append whatever conn has received to buf, without waiting."""
    while True:
        try:
            data = conn.recv(65536)
        except (BlockingIOError, OSError):
            return
        if not data:
            return
        buf += data


def _command_names(data: bytes) -> list[str]:
    """The upper-cased name of each complete RESP command in data (a partial one is left out)."""
    names, i = [], 0
    try:
        while i < len(data) and data[i:i + 1] == b"*":
            end = data.index(b"\r\n", i)
            count, i = int(data[i + 1:end]), end + 2
            args = []
            for _ in range(count):
                end = data.index(b"\r\n", i)
                length = int(data[i + 1:end])
                args.append(data[end + 2:end + 2 + length])
                i = end + 2 + length + 2
            if i > len(data):
                break
            names.append(args[0].decode(errors="replace").upper() if args else "")
    except ValueError:
        pass  # a partial command at the end
    return names
