#!/usr/bin/env bash
# find_python.sh X.Y WHAT: print the path of a CPython X.Y interpreter for one cell of
# `make test-matrix` (WHAT names the cell in the error), or exit 1 saying what is missing.
#
# Looks, in order, at: $PYTHONXY (e.g. PYTHON313=/opt/python3.13/bin/python3), pyenv's
# installed versions (the newest X.Y.*, under `pyenv root` or ~/.pyenv), then python3.X on PATH
# outside pyenv's shims (a shim only works for the versions pyenv has selected). Every candidate
# is run once to check that it really is X.Y.
set -u
want=${1:?usage: find_python.sh X.Y WHAT}
what=${2:-Python $want}
var=PYTHON${want//./}

is_want() {
	[ -x "$1" ] && "$1" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$want'.split('.'))))" 2>/dev/null
}

looked=()
if [ -n "${!var:-}" ]; then
	if is_want "${!var}"; then echo "${!var}"; exit 0; fi
	echo "make test-matrix: $var=${!var} is not a Python $want interpreter (needed by the cell $what)" >&2
	exit 1
fi

root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
# the newest patch release first (sort -V), then any X.Y.* build pyenv holds
for dir in $(ls -d "$root/versions/$want".* 2>/dev/null | sort -rV); do
	looked+=("$dir/bin/python$want")
	if is_want "$dir/bin/python$want"; then echo "$dir/bin/python$want"; exit 0; fi
done
[ ${#looked[@]} -gt 0 ] || looked+=("$root/versions/$want.*")

IFS=: read -ra path_dirs <<<"$PATH"
for dir in "${path_dirs[@]}"; do
	case $dir in */shims) continue ;; esac
	[ -x "$dir/python$want" ] || continue
	looked+=("$dir/python$want")
	if is_want "$dir/python$want"; then echo "$dir/python$want"; exit 0; fi
done
[ ${#looked[@]} -gt 1 ] || looked+=("python$want on PATH")

echo "make test-matrix: the cell $what needs a Python $want interpreter, and there is none." >&2
echo "  looked at: ${looked[*]}" >&2
echo "  install one (e.g. \`pyenv install $want\`, or the distribution's python$want and python$want-venv)," >&2
echo "  or point $var at one: make test-matrix $var=/path/to/python$want" >&2
exit 1
