#!/usr/bin/env bash
# One venv of the ansible-core matrix: ansible-core MINOR.* (its newest patch release), the
# collections bundle tools/matrix/cores.txt names for it (--no-deps: the bundle pins the core
# it was released with), and the test tools at requirements-dev.txt's versions; with --full
# also Molecule's. Rebuilt only when what it should hold changed; then check_bundle.py checks
# the core and the collections. Usage: tools/matrix/make-venv.sh [--full] MINOR VENV
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
requirements=(tools/matrix/requirements.in)
if [ "${1:-}" = --full ]; then requirements+=(tools/matrix/requirements-full.in); shift; fi
minor="$1" venv="$2"
python_base="${PYTHON_BASE:?PYTHON_BASE: the Python of the matrix venvs (the Makefile sets it)}"
bundle="$(awk -v minor="$minor" '$1 == minor { print $2 }' tools/matrix/cores.txt)"
if [ -z "$bundle" ] || [ "$bundle" = default ]; then
  echo "make-venv: $minor has no bundle in tools/matrix/cores.txt" >&2; exit 2
fi

# Test tools at the default toolchain's versions; each core resolves its own dependencies.
tools=()
while read -r name; do
  version="$(grep -iE "^${name%%[*}==" requirements-dev.txt | cut -d= -f3)"
  [ -n "$version" ] || { echo "make-venv: $name is not in requirements-dev.txt" >&2; exit 2; }
  tools+=("$name==$version")
done < <(cat "${requirements[@]}" | grep -vE '^\s*(#|$)')

spec="$("$python_base" --version) ansible-core==$minor.* $bundle ${tools[*]}"
if [ "$(cat "$venv/.matrix-installed" 2>/dev/null)" != "$spec" ]; then
  rm -rf "$venv" && "$python_base" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "ansible-core==$minor.*" "${tools[@]}"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "$bundle"
  echo "$spec" > "$venv/.matrix-installed"
fi
"$venv/bin/python" tools/matrix/check_bundle.py "$minor"
