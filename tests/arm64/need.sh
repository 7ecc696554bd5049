#!/usr/bin/env bash
# need.sh COMMAND=PACKAGE...: install the Debian packages whose command is missing (one apt-get
# run for all of them), then check every command is there; a failure says what could not be had.
# Used by `make wheel-all` / `make test-arm64` for the cross compiler, qemu, binfmt-support and
# debootstrap. A PACKAGE may be a comma-separated list (installed together); a COMMAND that starts
# with / is a file that must exist (e.g. a header of the cross libc).
set -u
have() {
	case $1 in
	/*) [ -e "$1" ] ;;
	*) command -v "$1" >/dev/null 2>&1 ;;
	esac
}
missing_pkgs=()
for pair in "$@"; do
	cmd=${pair%%=*} pkgs=${pair#*=}
	have "$cmd" || missing_pkgs+=(${pkgs//,/ })
done
[ ${#missing_pkgs[@]} -eq 0 ] && exit 0

sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
echo ">> installing ${missing_pkgs[*]} (apt-get; a minute or so)"
if [ -n "$sudo" ] && ! command -v sudo >/dev/null 2>&1; then
	echo "error: ${missing_pkgs[*]} must be installed, which needs root (no sudo here):" >&2
	echo "       apt-get install ${missing_pkgs[*]}" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "error: these Debian/Ubuntu packages are needed and apt-get is not available: ${missing_pkgs[*]}" >&2
	exit 1
fi
log=$(mktemp)
if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}"; } >"$log" 2>&1; then
	tail -n 20 "$log" >&2
	echo "error: could not install ${missing_pkgs[*]} with apt-get (output above); install them and run make again" >&2
	rm -f "$log"
	exit 1
fi
rm -f "$log"
for pair in "$@"; do
	cmd=${pair%%=*}
	have "$cmd" || { echo "error: ${pair#*=} is installed but $cmd is still missing" >&2; exit 1; }
done
