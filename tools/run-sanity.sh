#!/usr/bin/env bash
# ansible-test must run from inside ansible_collections/<ns>/<name>: copy the files git
# tracks (plus new, not-ignored ones) there and run sanity with its own pinned
# requirements in venvs (no Docker here).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.cache/sanity/ansible_collections/netsec/bjnp"
rm -rf "$dest" && mkdir -p "$dest"
(cd "$root" && git ls-files --cached --others --exclude-standard -z) |
  rsync -a --from0 --files-from=- "$root/" "$dest/"
cd "$dest"
# ansible-test looks for a git repository to list files; give the copy its own.
git init -q && git add -A
ansible-test sanity --venv --requirements --python 3.11 --color no "$@"
