#!/usr/bin/env bash
# Builds the collection and fails if the tarball carries development-only files.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/.cache/dist"
rm -rf "$out" && mkdir -p "$out"
ansible-galaxy collection build "$root" --output-path "$out" --force
tarball="$(ls "$out"/netsec-bjnp-*.tar.gz)"
forbidden="$(tar -tzf "$tarball" | grep -E '^(tests|bench|extensions|tools|\.ci|\.venv|\.cache)(/|$)' || true)"
if [ -n "$forbidden" ]; then
  echo "the tarball holds development files:" >&2
  echo "$forbidden" >&2
  exit 1
fi
for required in plugins/modules/probe.py roles/firewall/meta/argument_specs.yml meta/runtime.yml; do
  tar -tzf "$tarball" | grep -qx "$required" || { echo "the tarball lacks $required" >&2; exit 1; }
done
echo "$tarball: $(tar -tzf "$tarball" | wc -l) entries, no tests, lab or bench files"
