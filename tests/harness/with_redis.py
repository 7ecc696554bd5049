"""Run a command with a throw-away redis-server: with_redis.py -- CMD ARGS...

Exports REDIS_URL (redis://127.0.0.1:PORT/0) and REDIS_ADDR (127.0.0.1:PORT) to the
command, then stops the server whatever happens, and exits with the command's status.
"""
from __future__ import annotations

import os
import subprocess
import sys

from redisproc import RedisServer


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1:]
    if not argv:
        print("usage: with_redis.py -- CMD [ARGS...]", file=sys.stderr)
        return 2
    with RedisServer() as server:
        env = dict(os.environ, REDIS_URL=server.url, REDIS_ADDR=server.location)
        return subprocess.call(argv, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
