#!/usr/bin/env bash
# Builds the collection and fails if the tarball carries development-only files.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/.cache/dist"
rm -rf "$out" && mkdir -p "$out"
ansible-galaxy collection build "$root" --output-path "$out" --force
tarball="$(ls "$out"/netsec-bjnp-*.tar.gz)"
listing="$(tar -tzf "$tarball")"
forbidden="$(grep -E '^(tests|bench|extensions|tools|\.ci|\.venv|\.cache|\.hypothesis|\.pytest_cache|reports)(/|$)' <<<"$listing" || true)"
if [ -n "$forbidden" ]; then
  echo "the tarball holds development files:" >&2
  echo "$forbidden" >&2
  exit 1
fi
# .ansible-lint: galaxy-importer lints the unpacked tarball, and only this config tells ansible-lint
# that plugins/filter/*.yml are filter docs, not playbooks (make publish-check).
for required in plugins/modules/probe.py roles/firewall/meta/argument_specs.yml meta/runtime.yml .ansible-lint; do
  grep -qx "$required" <<<"$listing" || { echo "the tarball lacks $required" >&2; exit 1; }
done
echo "$tarball: $(wc -l <<<"$listing") entries, no tests, lab or bench files"
