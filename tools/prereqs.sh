#!/usr/bin/env bash
# prereqs.sh WHAT...: check what this checkout needs from the system before a target uses it, and
# install what apt can provide when it is missing (Debian/Ubuntu; sudo when not root). WHAT is any
# of:
#   redis   redis-server and redis-cli (the demo's and the tests' throw-away servers; the Sentinel
#           is `redis-server --sentinel`)            apt: redis-server redis-tools
#   python  a python3 (>= 3.11: what the pins of requirements-*.txt need) that can make virtualenvs
#                                                    apt: python3 python3-venv
#   cc      a C compiler for cgo (`go env CC`, gcc by default) that can compile and link a C program
#                                                    apt: gcc libc6-dev
#   pyheaders  Python.h of $PYTHON3 (uWSGI, a development pin, compiles against it)
#                                                    apt: python3-dev, for Debian's own python3
#   ab      ApacheBench, the HTTP load generator of `make bench-e2e` (bench/e2e.py)
#                                                    apt: apache2-utils
#   go      Go, at least the version go.mod names. Never from apt: Debian's golang is older
#           (bookworm ships 1.19), so this names the release to get and where.
# Exits 1 with a message naming what is missing and how to get it; prints nothing when all is there.
set -u
cd "$(dirname "$0")/.."

GO=${GO:-go}
PYTHON3=${PYTHON3:-python3}
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

have_redis() { command -v redis-server >/dev/null && command -v redis-cli >/dev/null; }
have_ab() { command -v ab >/dev/null; }
have_python() { command -v "$PYTHON3" >/dev/null; }
python_ok() {
	"$PYTHON3" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}
# Debian splits venv's pip bootstrap (ensurepip) into python3-venv; `python3 -m venv` fails without it.
have_venv() { "$PYTHON3" -c 'import ensurepip, venv' >/dev/null 2>&1; }
cc_name() {
	local cc
	cc=$("$GO" env CC 2>/dev/null) || cc=""
	echo "${cc:-${CC:-gcc}}"
}
have_cc() {
	local cc out
	cc=$(cc_name)
	command -v "${cc%% *}" >/dev/null || return 1
	out=$(mktemp -d) || return 1
	# compile and link: a compiler without libc's headers or crt files cannot build cgo either
	printf '#include <stdlib.h>\nint main(void) { return EXIT_SUCCESS; }\n' >"$out/t.c"
	$cc -o "$out/t" "$out/t.c" >/dev/null 2>&1
	local rc=$?
	rm -rf "$out"
	return $rc
}

# (in a virtualenv, sysconfig names the base interpreter's include directory)
python_h() { "$PYTHON3" -c 'import os, sysconfig; print(os.path.join(sysconfig.get_paths()["include"], "Python.h"))'; }
have_pyheaders() { [ -f "$(python_h)" ]; }
# Debian's python3 (its headers come from apt), not a pyenv or self-built one
debian_python() { "$PYTHON3" -c 'import sys; sys.exit(not sys.base_prefix == "/usr")' 2>/dev/null; }

want_redis=0 want_python=0 want_cc=0 want_go=0 want_pyheaders=0 want_ab=0
for what in "$@"; do
	case $what in
	redis) want_redis=1 ;;
	python) want_python=1 ;;
	cc) want_cc=1 ;;
	go) want_go=1 ;;
	pyheaders) want_pyheaders=1 ;;
	ab) want_ab=1 ;;
	*) echo "prereqs.sh: unknown prerequisite $what (redis, python, cc, pyheaders, ab, go)" >&2; exit 2 ;;
	esac
done

# --- what apt can provide ---------------------------------------------------------------------
pkgs=() why=()
if [ $want_redis = 1 ] && ! have_redis; then
	pkgs+=(redis-server redis-tools); why+=("redis-server and redis-cli (the throw-away servers)")
fi
if [ $want_python = 1 ]; then
	if ! have_python; then
		pkgs+=(python3 python3-venv); why+=("$PYTHON3 (for .venv)")
	elif ! have_venv; then
		pkgs+=(python3-venv); why+=("$PYTHON3's venv module with ensurepip (\`$PYTHON3 -m venv\` makes .venv)")
	fi
fi
if [ $want_cc = 1 ] && ! have_cc; then
	pkgs+=(gcc libc6-dev); why+=("a C compiler for cgo ($(cc_name); the Go core is a cgo shared library)")
fi
if [ $want_ab = 1 ] && ! have_ab; then
	pkgs+=(apache2-utils); why+=("ab, ApacheBench (the load generator of bench/e2e.py)")
fi
if [ $want_pyheaders = 1 ] && ! have_pyheaders && debian_python; then
	pkgs+=(python3-dev); why+=("$(python_h) (uWSGI compiles against it)")
fi

if [ ${#pkgs[@]} -gt 0 ]; then
	if command -v apt-get >/dev/null && { [ -z "$SUDO" ] || command -v sudo >/dev/null; }; then
		echo ">> missing: ${why[*]}"
		echo ">> installing with apt-get: ${pkgs[*]}"
		$SUDO apt-get update -qq &&
			DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null ||
			{ echo "apt-get install ${pkgs[*]} failed; install them and run make again" >&2; exit 1; }
	else
		echo "missing: ${why[*]}" >&2
		echo "install them (Debian/Ubuntu packages: ${pkgs[*]}) and run make again" >&2
		exit 1
	fi
fi

fail=0
if [ $want_redis = 1 ] && ! have_redis; then
	echo "redis-server and redis-cli are still not on PATH (Debian packages redis-server, redis-tools)" >&2; fail=1
fi
if [ $want_python = 1 ]; then
	if ! have_python || ! have_venv; then
		echo "$PYTHON3 with its venv module (Debian: python3, python3-venv) is still missing;" \
			"set PYTHON3=/path/to/python3 to use another interpreter" >&2; fail=1
	elif ! python_ok; then
		echo "$PYTHON3 is Python $("$PYTHON3" -c 'import platform; print(platform.python_version())');" \
			"the pinned requirements of .venv need 3.11 or newer (set PYTHON3=/path/to/python3.X to use another)" >&2; fail=1
	fi
fi
if [ $want_cc = 1 ] && ! have_cc; then
	echo "$(cc_name) cannot compile and link a C program (cgo needs it: Debian packages gcc, libc6-dev;" \
		"or set CC to another compiler)" >&2; fail=1
fi
if [ $want_ab = 1 ] && ! have_ab; then
	echo "ab is still not on PATH (Debian package apache2-utils)" >&2; fail=1
fi
if [ $want_pyheaders = 1 ] && ! have_pyheaders; then
	echo "$(python_h) is missing: uWSGI (requirements-dev.txt) compiles against the headers of" \
		"$("$PYTHON3" -c 'import sys; print(sys.base_prefix)')'s Python; install them" \
		"(Debian's python3: apt-get install python3-dev; pyenv builds include them)" >&2; fail=1
fi

# --- Go: named, never installed ---------------------------------------------------------------
if [ $want_go = 1 ]; then
	need=$(sed -n 's/^go[[:space:]]\{1,\}\([0-9.]*\).*/\1/p' go.mod | head -1)
	case $(uname -m) in x86_64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
	how="  Debian's golang is older (bookworm: 1.19), so Go is not installed with apt. Get go$need or newer
  from https://go.dev/dl/, e.g.:
    curl -LO https://go.dev/dl/go$need.linux-$arch.tar.gz
    sudo tar -C /usr/local -xzf go$need.linux-$arch.tar.gz && export PATH=/usr/local/go/bin:\$PATH
  (or set GO=/path/to/go). Only a build from source needs Go: installing a wheel does not."
	if ! command -v "$GO" >/dev/null; then
		echo "building the Go core needs Go $need or newer (go.mod: \`go $need\`), and \`$GO\` is not on PATH." >&2
		echo "$how" >&2
		fail=1
	else
		have=$("$GO" env GOVERSION 2>/dev/null)
		have=${have#go}
		have=${have%% *}
		if [ -z "$have" ] || [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]; then
			echo "building the Go core needs Go $need or newer (go.mod: \`go $need\`);" \
				"$(command -v "$GO") is ${have:-of an unknown version} ($("$GO" version 2>&1))." >&2
			echo "$how" >&2
			fail=1
		fi
	fi
fi
exit $fail
