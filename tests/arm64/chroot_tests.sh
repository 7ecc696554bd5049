#!/usr/bin/env bash
# The Python tests against an aarch64 wheel, run by an aarch64 Python inside an arm64 Debian root
# (debootstrap) under qemu-user-static (binfmt_misc):
#   chroot_tests.sh install WHEEL     the root (made when missing), its virtualenv, the wheel
#   chroot_tests.sh pytest ARGS...    pytest ARGS in the root, on the tests copied in afresh
#   chroot_tests.sh binfmt            only check (and enable) qemu-aarch64 in binfmt_misc
#
# The root is cached in $ARM64_ROOT (default build/arm64/root) and made afresh when its recipe
# (suite, packages) changes; the virtualenv inside it (/opt/rcg-venv) is made afresh when the pins
# change. `install` reinstalls the wheel every time; `pytest` copies tests/python, tests/harness,
# tests/fixtures and pytest.ini to /opt/rcg-tests, so the package under test is the wheel's, with
# the wheel's libredis_cache_go.so, never the source tree's. redis-server is the root's own
# (Debian's arm64 build, under qemu too), started by the tests' harness on loopback: the chroot
# shares the host's network namespace. RCG_TEST_DEPLOYMENT (cluster, sentinel) is passed in.
#
# Every mount (debootstrap's and the /proc the tests get) is made in a private mount namespace
# (unshare --mount), so none outlives this script, even killed: `rm -rf build/` stays safe.
#
# Environment: ARM64_PINS (install: the pip requirements of the virtualenv, e.g. "Django==5.2.19
# pytest==9.2.0"), ARM64_SUITE (bookworm), ARM64_MIRROR (default: the Debian mirror apt is
# configured with here), ARM64_ROOT.
set -euo pipefail

usage="usage: chroot_tests.sh install WHEEL | pytest ARGS... | binfmt"
command=${1:?$usage}
shift
if [ "$(id -u)" != 0 ]; then
	echo "error: the arm64 root needs root privileges (binfmt_misc, debootstrap, unshare, chroot): run it as root, e.g. sudo make test-arm64" >&2
	exit 1
fi
ROOT=${ARM64_ROOT:-build/arm64/root}
SUITE=${ARM64_SUITE:-bookworm}
INCLUDE=python3,python3-venv,redis-server,redis-tools

# The Debian mirror apt uses here: the first deb822 URIs: or one-line `deb` source whose path ends
# in /debian (not debian-security).
find_mirror() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		sed -n -e 's/^URIs:[[:space:]]*//p' -e 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' "$f"
	done | tr ' ' '\n' | grep -E '^https?://[^[:space:]]+/debian/?$' | head -n 1
}
MIRROR=${ARM64_MIRROR:-$(find_mirror)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

# binfmt_misc must hand aarch64 executables to qemu, with the F flag (interpreter opened at
# registration) so that it also works inside the chroot.
if ! grep -qs '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64; then
	echo ">> registering qemu-aarch64 with binfmt_misc (update-binfmts --enable qemu-aarch64)"
	[ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
	update-binfmts --enable qemu-aarch64 || true
fi
if ! grep -qs '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64; then
	echo "error: qemu-aarch64 is not registered with binfmt_misc (/proc/sys/fs/binfmt_misc/qemu-aarch64);" >&2
	echo "       this needs root and a kernel with binfmt_misc: run update-binfmts --enable qemu-aarch64 as root" >&2
	exit 1
fi
grep -qs '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 || {
	echo "error: qemu-aarch64 is registered without the F flag (qemu-user-static's registration has it);" >&2
	echo "       aarch64 programs could not start inside the chroot" >&2
	exit 1
}

# run_in_root CMD...: CMD in the root with a clean environment, and /proc and /dev/shm mounted in
# a private mount namespace (gone when CMD ends).
run_in_root() {
	local env=(PATH=/opt/rcg-venv/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
		PIP_CERT=/etc/rcg-host-ca.crt SSL_CERT_FILE=/etc/rcg-host-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1
		PYTHONDONTWRITEBYTECODE=1)
	local v
	for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_DEFAULT_TIMEOUT RCG_TEST_DEPLOYMENT; do
		[ -z "${!v:-}" ] || env+=("$v=${!v}")
	done
	unshare --mount --propagation private -- /bin/sh -c \
		'mount -t proc proc "$0/proc" && mount -t tmpfs tmpfs "$0/dev/shm" && exec chroot "$0" "$@"' \
		"$ROOT" /usr/bin/env -i "${env[@]}" "$@"
}

recipe="suite=$SUITE include=$INCLUDE"
case $command in
binfmt)
	exit 0
	;;
pytest)
	if [ "$(cat "$ROOT/.rcg-root" 2>/dev/null)" != "$recipe" ] || [ ! -x "$ROOT/opt/rcg-venv/bin/python" ]; then
		echo "error: no arm64 root with a virtualenv in $ROOT: run chroot_tests.sh install WHEEL first (make test-arm64 does)" >&2
		exit 1
	fi
	rm -rf "$ROOT/opt/rcg-tests"
	mkdir -p "$ROOT/opt/rcg-tests/tests"
	cp -r tests/python tests/harness tests/fixtures "$ROOT/opt/rcg-tests/tests/"
	cp pytest.ini "$ROOT/opt/rcg-tests/"
	echo ">> pytest in the arm64 root (aarch64 Python, library and redis-server, all under qemu)${RCG_TEST_DEPLOYMENT:+, RCG_TEST_DEPLOYMENT=$RCG_TEST_DEPLOYMENT}: $*"
	run_in_root /bin/sh -c 'cd /opt/rcg-tests && PYTHONPATH=/opt/rcg-tests/tests/harness exec python -m pytest -p no:cacheprovider "$@"' sh "$@"
	exit
	;;
install)
	wheel=${1:?$usage}
	[ -f "$wheel" ] || { echo "error: no wheel at $wheel (make wheel-arm64 builds the aarch64 wheel)" >&2; exit 1; }
	PINS=${ARM64_PINS:?ARM64_PINS must name the pip requirements}
	;;
*)
	echo "$usage" >&2
	exit 2
	;;
esac

# The root, made afresh when missing or made from another recipe.
if [ "$(cat "$ROOT/.rcg-root" 2>/dev/null)" != "$recipe" ]; then
	if findmnt -rn -o TARGET | grep -q "^$(realpath -m "$ROOT")"; then
		echo "error: something is mounted under $ROOT (findmnt); unmount it before the root is made afresh" >&2
		exit 1
	fi
	echo ">> debootstrap: an arm64 Debian $SUITE root in $ROOT from $MIRROR (python3, redis-server; several minutes under qemu)"
	rm -rf "$ROOT" "$ROOT.partial"
	mkdir -p "$(dirname "$ROOT")"
	log=$(dirname "$ROOT")/debootstrap.log
	start=$SECONDS
	if ! unshare --mount --propagation private -- \
		debootstrap --arch=arm64 --variant=minbase --include="$INCLUDE" "$SUITE" "$ROOT.partial" "$MIRROR" >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		echo "error: debootstrap failed (full log: $log)" >&2
		exit 1
	fi
	echo "$recipe" >"$ROOT.partial/.rcg-root"
	mv "$ROOT.partial" "$ROOT"
	echo ">> debootstrap done in $((SECONDS - start)) s"
fi

# Name resolution and the host's CA bundle (it may hold a proxy's CA), for pip inside the root.
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/rcg-host-ca.crt"

arch=$(run_in_root /usr/bin/python3 -c 'import platform; print(platform.machine(), platform.python_version())')
case $arch in
aarch64*) ;;
*) echo "error: the root's python3 reports $arch, not aarch64" >&2; exit 1 ;;
esac

if [ "$(cat "$ROOT/opt/rcg-venv/.rcg-pins" 2>/dev/null)" != "$PINS" ]; then
	echo ">> the root's virtualenv (/opt/rcg-venv, Python $arch): pip install $PINS"
	rm -rf "$ROOT/opt/rcg-venv"
	run_in_root /usr/bin/python3 -m venv /opt/rcg-venv
	# wheels only: nothing is compiled under qemu
	# shellcheck disable=SC2086
	run_in_root /opt/rcg-venv/bin/python -m pip install -q --only-binary :all: $PINS || {
		echo "error: pip in the arm64 root could not install $PINS (the root reaches the index through" >&2
		echo "       the host's /etc/resolv.conf and CA bundle, and http(s)_proxy / PIP_INDEX_URL if set)" >&2
		exit 1
	}
	echo "$PINS" >"$ROOT/opt/rcg-venv/.rcg-pins"
fi

echo ">> installing $(basename "$wheel") into the root's virtualenv"
mkdir -p "$ROOT/opt/rcg-wheel"
rm -f "$ROOT"/opt/rcg-wheel/*.whl
cp "$wheel" "$ROOT/opt/rcg-wheel/"
run_in_root /opt/rcg-venv/bin/python -m pip install -q --force-reinstall --no-deps "/opt/rcg-wheel/$(basename "$wheel")"
run_in_root /opt/rcg-venv/bin/python -c '
import os, platform, django, redis_cache_go
lib = os.path.join(os.path.dirname(redis_cache_go.__file__), "libredis_cache_go.so")
with open(lib, "rb") as f:
    machine = int.from_bytes(f.read(20)[18:20], "little")  # ELF e_machine: 183 is AArch64
print("arm64 root:", platform.machine(), "Python", platform.python_version(), "Django", django.get_version(),
      "| redis_cache_go", redis_cache_go.__version__, "from", lib, "(ELF machine %d%s)" % (machine, ", AArch64" if machine == 183 else ""))
raise SystemExit(0 if machine == 183 and platform.machine() == "aarch64" else "not an aarch64 library and interpreter")
'

