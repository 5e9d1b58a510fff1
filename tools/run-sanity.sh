#!/usr/bin/env bash
# ansible-test must run from inside ansible_collections/<ns>/<name>: copy the files git
# tracks (plus new, not-ignored ones) there and run sanity locally. Its own --requirements
# bootstrap downloads pip from a host this network cannot reach, so the pinned sanity
# requirements that ship inside ansible-test are installed into a venv of ours instead.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.cache/sanity-venv"
core_version="$("$root/.venv/bin/python" -c 'import ansible; print(ansible.__version__)' 2>/dev/null ||
                "$root/.venv/bin/ansible-test" --version | awk '{print $2}')"
requirements="$("$root/.venv/bin/python" -c 'import ansible_test, os; print(os.path.join(os.path.dirname(ansible_test.__file__), "_data", "requirements"))')"
stamp="$venv/.installed-$core_version"
if [ ! -f "$stamp" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  pins=()
  for f in "$requirements"/sanity.*.txt; do pins+=(-r "$f"); done
  "$venv/bin/pip" install --quiet --disable-pip-version-check "ansible-core==$core_version" "${pins[@]}"
  touch "$stamp"
fi

# Tests such as `changelog` and `import` still build venvs of their own and seed pip with
# a get-pip script from a host this network cannot reach; place our stand-in where
# ansible-test looks for its cached copy.
pip_version="$(grep -oE "pip='[0-9.]+'" "$requirements/../../_internal/python_requirements.py" | grep -oE '[0-9.]+' | head -1)"
mkdir -p "$HOME/.ansible/test/cache"
cp "$root/tools/get_pip_offline.py" "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"

dest="$root/.cache/sanity/ansible_collections/netsec/bjnp"
rm -rf "$dest" && mkdir -p "$dest"
(cd "$root" && git ls-files --cached --others --exclude-standard -z) |
  rsync -a --from0 --files-from=- "$root/" "$dest/"
cd "$dest"
# ansible-test lists files through git when it can; give the copy its own repository.
git init -q && git add -A
PATH="$venv/bin:$PATH" ansible-test sanity --python 3.11 --color no "$@"
