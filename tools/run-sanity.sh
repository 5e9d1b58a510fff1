#!/usr/bin/env bash
# ansible-test must run from inside ansible_collections/<ns>/<name>: copy the files git
# tracks (plus new, not-ignored ones) there and run sanity locally. Its own --requirements
# bootstrap downloads pip from a host this network cannot reach, so the pinned sanity
# requirements that ship inside ansible-test are installed into a venv of ours instead, one
# per ansible-core version (.cache/sanity-venvs/<version>).
# Usage: tools/run-sanity.sh [--venv DIR] [ansible-test sanity arguments...]
#   --venv: the venv whose ansible-core (and Python) to test with; default .venv.
#   tools/matrix/run.sh passes its venv of each ansible-core minor.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
core_venv="$root/.venv"
if [ "${1:-}" = --venv ]; then core_venv="$(cd "$2" && pwd)"; shift 2; fi
python="$core_venv/bin/python"
[ -x "$python" ] || { echo "run-sanity: no Python at $python (make setup, or tools/matrix/run.sh for a matrix venv)" >&2; exit 2; }
core_version="$("$python" -c 'from ansible.release import __version__; print(__version__)')"
python_version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
requirements="$("$python" -c 'import ansible_test, os; print(os.path.join(os.path.dirname(ansible_test.__file__), "_data", "requirements"))')"
venv="$root/.cache/sanity-venvs/$core_version"
stamp="$venv/.installed"
if [ ! -f "$stamp" ]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  pins=()
  for f in "$requirements"/sanity.*.txt; do pins+=(-r "$f"); done
  "$venv/bin/pip" install --quiet --disable-pip-version-check "ansible-core==$core_version" "${pins[@]}"
  touch "$stamp"
fi

# Tests such as `changelog` and `import` still build venvs of their own and seed pip with
# a get-pip script from a host this network cannot reach; place our stand-in where
# ansible-test looks for its cached copy (its name carries the pip version this core pins).
pip_version="$(grep -oE "pip='[0-9.]+'" "$requirements/../../_internal/python_requirements.py" | grep -oE '[0-9.]+' | head -1)"
mkdir -p "$HOME/.ansible/test/cache"
cp "$root/tools/get_pip_offline.py" "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"

# One copy per core version: the matrix may run several at once.
dest="$root/.cache/sanity/$core_version/ansible_collections/netsec/bjnp"
rm -rf "$dest" && mkdir -p "$dest"
(cd "$root" && git ls-files --cached --others --exclude-standard -z) |
  rsync -a --from0 --files-from=- "$root/" "$dest/"
cd "$dest"
# ansible-test lists files through git when it can; give the copy its own repository.
git init -q && git add -A
PATH="$venv/bin:$PATH" ansible-test sanity --python "$python_version" --color no "$@"
