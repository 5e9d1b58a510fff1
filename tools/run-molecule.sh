#!/usr/bin/env bash
# Runs every Molecule scenario under extensions/molecule (`molecule test -s NAME` from the
# collection root, where Molecule 26 finds collection scenarios and the shared config.yml),
# WORKERS at a time. One log per scenario in .cache/molecule-logs/, a table of results and
# durations at the end, the tail of each failed scenario's log, non-zero exit on any failure.
# The windows scenario needs a Windows host of your own (docs/windows.md): without
# BJNP_WINDOWS_HOST it is not run and shows as `skipped`.
# Usage: tools/run-molecule.sh [WORKERS] [SCENARIO...]   (default 2 workers, all scenarios)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
workers="${1:-2}"
shift || true
logs="$root/.cache/molecule-logs"
mkdir -p "$logs"

if [ "$#" -gt 0 ]; then
  scenarios=("$@")
else
  mapfile -t scenarios < <(find extensions/molecule -mindepth 2 -maxdepth 2 -name molecule.yml -printf '%h\n' |
                           xargs -n1 basename | sort)
fi
[ "${#scenarios[@]}" -gt 0 ] || { echo "no scenarios under extensions/molecule" >&2; exit 1; }

run_one() {
  local name="$1" log="$logs/$1.log" start rc
  start="$(date +%s)"
  rc=0
  molecule test -s "$name" > "$log" 2>&1 || rc=$?
  printf '%s %s %s\n' "$name" "$rc" "$(( $(date +%s) - start ))" > "$logs/$name.result"
  echo "  done: $name (rc $rc, $(( $(date +%s) - start )) s)"
}
export -f run_one
export logs

rm -f "$logs"/*.result
to_run=()
for name in "${scenarios[@]}"; do
  if [ "$name" = windows ] && [ -z "${BJNP_WINDOWS_HOST:-}" ]; then
    echo "windows scenario skipped: BJNP_WINDOWS_HOST not set (no Windows host on this machine)"
    printf '%s skipped 0\n' "$name" > "$logs/$name.result"
  else
    to_run+=("$name")
  fi
done
echo "molecule: ${#to_run[@]} scenarios, $workers at a time, logs in $logs"
start="$(date +%s)"
if [ "${#to_run[@]}" -gt 0 ]; then
  # shellcheck disable=SC2016 # $1 is expanded by the child bash, not here
  printf '%s\n' "${to_run[@]}" | xargs -P "$workers" -I{} bash -c 'run_one "$1"' _ {}
fi

failed=()
printf '\n%-18s %-8s %s\n' scenario result duration
for name in "${scenarios[@]}"; do
  read -r _ rc secs < "$logs/$name.result"
  case "$rc" in
    0) result=passed ;;
    skipped) result=skipped ;;
    *) result=FAILED; failed+=("$name") ;;
  esac
  printf '%-18s %-8s %4d s\n' "$name" "$result" "$secs"
done
printf '%-18s %-8s %4d s\n' total "" "$(( $(date +%s) - start ))"

for name in "${failed[@]}"; do
  printf '\n===== %s failed; first error, then the last 40 lines of %s =====\n' "$name" "$logs/$name.log"
  grep -m1 -A30 -E 'fatal: |FAILED! |^.{0,20}(=+ FAILURES|E   )' "$logs/$name.log" || true
  printf -- '----- last 40 lines -----\n'
  tail -n 40 "$logs/$name.log"
done
[ "${#failed[@]}" -eq 0 ]
