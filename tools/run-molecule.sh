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

# The longest scenarios (measured, docs/testing.md) start first, so the workers finish together.
longest_first=(rollback preexisting ufw-gateway firewalld firewalld-gateway ufw)
if [ "$#" -gt 0 ]; then
  scenarios=("$@")
else
  mapfile -t found < <(find extensions/molecule -mindepth 2 -maxdepth 2 -name molecule.yml -printf '%h\n' |
                       xargs -n1 basename | sort)
  scenarios=()
  for name in "${longest_first[@]}"; do
    if [[ " ${found[*]} " == *" $name "* ]]; then scenarios+=("$name"); fi
  done
  for name in "${found[@]}"; do
    if [[ " ${longest_first[*]} " != *" $name "* ]]; then scenarios+=("$name"); fi
  done
fi
[ "${#scenarios[@]}" -gt 0 ] || { echo "no scenarios under extensions/molecule" >&2; exit 1; }

# Result line: name, exit status, wall seconds, CPU seconds (user + system of Molecule and every
# process it waited for: ansible, podman exec, pytest), which depends far less on the machine's load.
run_one() {
  local name="$1" log="$logs/$1.log" start rc cpu
  start="$(date +%s)"
  rc=0
  # `times` in the subshell: its second line is the CPU time of the children (Molecule's tree).
  ( rc=0; molecule test -s "$name" > "$log" 2>&1 || rc=$?; times > "$logs/$name.times"; exit "$rc" ) || rc=$?
  cpu="$(sed -n 2p "$logs/$name.times" | tr 'ms' '  ' | awk '{printf "%d", $1 * 60 + $2 + $3 * 60 + $4 + 0.5}')"
  printf '%s %s %s %s\n' "$name" "$rc" "$(( $(date +%s) - start ))" "$cpu" > "$logs/$name.result"
  echo "  done: $name (rc $rc, $(( $(date +%s) - start )) s, load $(cut -d' ' -f1-3 /proc/loadavg))"
}
export -f run_one
export logs

rm -f "$logs"/*.result
to_run=()
for name in "${scenarios[@]}"; do
  if [ "$name" = windows ] && [ -z "${BJNP_WINDOWS_HOST:-}" ]; then
    echo "windows scenario skipped: BJNP_WINDOWS_HOST not set (no Windows host on this machine)"
    printf '%s skipped 0 0\n' "$name" > "$logs/$name.result"
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
printf '\n%-18s %-8s %8s %8s\n' scenario result wall cpu
for name in "${scenarios[@]}"; do
  read -r _ rc secs cpu < "$logs/$name.result"
  case "$rc" in
    0) result=passed ;;
    skipped) result=skipped ;;
    *) result=FAILED; failed+=("$name") ;;
  esac
  printf '%-18s %-8s %6d s %6d s\n' "$name" "$result" "$secs" "$cpu"
done
printf '%-18s %-8s %6d s %8s (load average now: %s)\n' total "" "$(( $(date +%s) - start ))" "" "$(cut -d' ' -f1-3 /proc/loadavg)"

for name in "${failed[@]}"; do
  printf '\n===== %s failed; first error, then the last 40 lines of %s =====\n' "$name" "$logs/$name.log"
  grep -m1 -A30 -E 'fatal: |FAILED! |^.{0,20}(=+ FAILURES|E   )' "$logs/$name.log" || true
  printf -- '----- last 40 lines -----\n'
  tail -n 40 "$logs/$name.log"
done
[ "${#failed[@]}" -eq 0 ]
