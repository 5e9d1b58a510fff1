#!/usr/bin/env bash
# Remediate benchmark of two collection trees in one run (bench/README.md): for each N, this
# checkout, then the other tree (for example `git worktree add /tmp/bjnp-prev <commit>`), on fresh
# containers each time, with the same venv, playbook and connection.
# Usage: bench/remediate/side-by-side.sh OTHER_TREE [SIZES] [OUT_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
other="$1"; sizes="${2:-1,10,30}"; out="${3:-/tmp/bjnp-remediate-side-by-side}"
mkdir -p "$out"
for n in ${sizes//,/ }; do
  for tree in current other; do
    path="$(cd "$here/../.." && pwd)"; [ "$tree" = other ] && path="$other"
    echo "== N=$n tree=$tree ($path) load $(cut -d' ' -f1-3 /proc/loadavg)"
    python3 "$here/run.py" --sizes "$n" --tree "$path" --tasks --json "$out/$tree-$n.json"
  done
done
