#!/usr/bin/env bash
# Runs every Molecule scenario under extensions/molecule (`molecule test -s NAME` from the
# collection root, where Molecule 26 finds collection scenarios and the shared config.yml),
# WORKERS at a time, on each Debian release in BJNP_MOL_DISTROS (default debian12; the
# scenarios read BJNP_MOL_DISTRO for their image, tools/build-image.sh builds them). debian12
# runs every scenario; the other releases run the scenarios in BJNP_MOL_MATRIX (below), where
# the tools' versions matter. A job is NAME (debian12) or NAME@DISTRO. One log per job in
# .cache/molecule-logs/ (NAME.log, NAME@DISTRO.log), a table of results and durations at the end,
# the tail of each failed job's log, non-zero exit on any failure.
# Container names, networks and addresses are fixed per scenario, so one scenario never runs
# twice at once: each job holds a machine-wide lock on its scenario (/run/lock, shared by every
# clone on the machine), and the distros of a scenario run one after the other.
# The windows scenario needs a Windows host of your own (docs/windows.md): without
# BJNP_WINDOWS_HOST it is not run and shows as `skipped`; it runs once, whatever the distros.
# BJNP_MOL_LIST=1 prints the jobs (in queue order) instead of running them.
# Usage: [BJNP_MOL_DISTROS="debian11 debian12 debian13"] tools/run-molecule.sh [WORKERS] [SCENARIO[@DISTRO]...]
#   (default 2 workers; no SCENARIO: all of them on debian12, BJNP_MOL_MATRIX on the other distros;
#    SCENARIO without @: on every distro in BJNP_MOL_DISTROS)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
workers="${1:-2}"
shift || true
logs="$root/.cache/molecule-logs"
mkdir -p "$logs"

# The longest scenarios (measured, docs/testing.md) start first, so the workers finish together.
longest_first=(rollback preexisting ufw-gateway firewalld firewalld-gateway ufw)
# The scenarios that run on the other distros (BJNP_MOL_MATRIX; default: one per backend, host
# mode; the gateway ones are release-independent beyond what the contract recordings replay).
read -r -a matrix <<< "${BJNP_MOL_MATRIX:-nftables iptables-nft iptables-legacy ufw firewalld}"
read -r -a distros <<< "${BJNP_MOL_DISTROS:-debian12}"
[ "${#distros[@]}" -gt 0 ] || { echo "BJNP_MOL_DISTROS is empty" >&2; exit 2; }
for distro in "${distros[@]}"; do
  case "$distro" in
    debian11|debian12|debian13) ;;
    *) echo "unknown distro '$distro' in BJNP_MOL_DISTROS (known: debian11 debian12 debian13)" >&2; exit 2 ;;
  esac
done
# job name -> the reference distro's jobs keep the bare scenario name (and log name).
job_name() { if [ "$2" = debian12 ]; then echo "$1"; else echo "$1@$2"; fi; }
queue=()
if [ "$#" -gt 0 ]; then
  for arg in "$@"; do
    if [[ "$arg" == *@* ]]; then
      queue+=("$(job_name "${arg%@*}" "${arg#*@}")")
    elif [ "$arg" = windows ]; then
      queue+=(windows)
    else
      for distro in "${distros[@]}"; do queue+=("$(job_name "$arg" "$distro")"); done
    fi
  done
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
  for name in "${matrix[@]}"; do
    [[ " ${found[*]} " == *" $name "* ]] || { echo "BJNP_MOL_MATRIX: no scenario $name under extensions/molecule" >&2; exit 2; }
  done
  # Distro by distro, debian12 (the long poles) first: neighbours in the queue are different
  # scenarios, so the workers seldom wait for a scenario's lock.
  ordered=()
  if [[ " ${distros[*]} " == *" debian12 "* ]]; then ordered=(debian12); fi
  for distro in "${distros[@]}"; do [ "$distro" = debian12 ] || ordered+=("$distro"); done
  for distro in "${ordered[@]}"; do
    for name in "${scenarios[@]}"; do
      if [ "$distro" = debian12 ] || [[ " ${matrix[*]} " == *" $name "* ]]; then
        queue+=("$(job_name "$name" "$distro")")
      fi
    done
  done
  if [[ " ${distros[*]} " != *" debian12 "* ]] && [[ " ${found[*]} " == *" windows "* ]]; then queue+=(windows); fi
fi
[ "${#queue[@]}" -gt 0 ] || { echo "no scenarios under extensions/molecule" >&2; exit 1; }
for job in "${queue[@]}"; do
  [ -f "extensions/molecule/${job%@*}/molecule.yml" ] || { echo "no scenario ${job%@*} under extensions/molecule" >&2; exit 2; }
  case "$job" in
    *@debian11|*@debian13|*@debian12) ;;
    *@*) echo "unknown distro in $job (known: debian11 debian12 debian13)" >&2; exit 2 ;;
  esac
done
# BJNP_MOL_LIST=1: print the jobs in queue order and stop.
if [ -n "${BJNP_MOL_LIST:-}" ]; then printf '%s\n' "${queue[@]}"; exit 0; fi
needed=()
for job in "${queue[@]}"; do
  distro=debian12
  [[ "$job" != *@* ]] || distro="${job#*@}"
  [[ " ${needed[*]} " == *" $distro "* ]] || needed+=("$distro")
done
for distro in "${needed[@]}"; do
  for image in "localhost/netsec-bjnp-$distro:latest" "localhost/netsec-bjnp-$distro-ufw:latest"; do
    podman image exists "$image" ||
      { echo "image $image is missing: bash tools/build-image.sh $distro (or make image)" >&2; exit 2; }
  done
done

# Result line: name, exit status, wall seconds, CPU seconds (user + system of Molecule and every
# process it waited for: ansible, podman exec, pytest), which depends far less on the machine's load.
run_one() {
  local job="$1" name="${1%@*}" distro=debian12 log="$logs/$1.log" lock
  [[ "$job" != *@* ]] || distro="${job#*@}"
  lock="$(if [ -d /run/lock ]; then echo /run/lock; else echo "${TMPDIR:-/tmp}"; fi)/netsec-bjnp-molecule-$name.lock"
  (
    # Waits while another job (of this run or another clone's) has this scenario's containers.
    flock 9
    local start rc=0 cpu
    start="$(date +%s)"
    # `times` in the subshell: its second line is the CPU time of the children (Molecule's tree).
    ( rc=0; BJNP_MOL_DISTRO="$distro" molecule test -s "$name" > "$log" 2>&1 || rc=$?
      times > "$logs/$job.times"; exit "$rc" ) || rc=$?
    cpu="$(sed -n 2p "$logs/$job.times" | tr 'ms' '  ' | awk '{printf "%d", $1 * 60 + $2 + $3 * 60 + $4 + 0.5}')"
    printf '%s %s %s %s\n' "$job" "$rc" "$(( $(date +%s) - start ))" "$cpu" > "$logs/$job.result"
    echo "  done: $job (rc $rc, $(( $(date +%s) - start )) s, load $(cut -d' ' -f1-3 /proc/loadavg))"
  ) 9> "$lock"
}
export -f run_one
export logs

rm -f "$logs"/*.result
to_run=()
for job in "${queue[@]}"; do
  if [ "${job%@*}" = windows ] && [ -z "${BJNP_WINDOWS_HOST:-}" ]; then
    echo "windows scenario skipped: BJNP_WINDOWS_HOST not set (no Windows host on this machine)"
    printf '%s skipped 0 0\n' "$job" > "$logs/$job.result"
  else
    to_run+=("$job")
  fi
done
echo "molecule: ${#to_run[@]} jobs (distros: ${distros[*]}), $workers at a time, logs in $logs"
start="$(date +%s)"
if [ "${#to_run[@]}" -gt 0 ]; then
  # shellcheck disable=SC2016 # $1 is expanded by the child bash, not here
  printf '%s\n' "${to_run[@]}" | xargs -P "$workers" -I{} bash -c 'run_one "$1"' _ {}
fi

failed=()
printf '\n%-28s %-8s %8s %8s\n' scenario result wall cpu
for job in "${queue[@]}"; do
  if [ -f "$logs/$job.result" ]; then read -r _ rc secs cpu < "$logs/$job.result"; else rc=none secs=0 cpu=0; fi
  case "$rc" in
    0) result=passed ;;
    skipped) result=skipped ;;
    *) result=FAILED; failed+=("$job") ;;
  esac
  printf '%-28s %-8s %6d s %6d s\n' "$job" "$result" "$secs" "$cpu"
done
printf '%-28s %-8s %6d s %8s (load average now: %s)\n' total "" "$(( $(date +%s) - start ))" "" "$(cut -d' ' -f1-3 /proc/loadavg)"

for job in "${failed[@]}"; do
  printf '\n===== %s failed; first error, then the last 40 lines of %s =====\n' "$job" "$logs/$job.log"
  grep -m1 -A30 -E 'fatal: |FAILED! |^.{0,20}(=+ FAILURES|E   )' "$logs/$job.log" || true
  printf -- '----- last 40 lines -----\n'
  tail -n 40 "$logs/$job.log"
done
[ "${#failed[@]}" -eq 0 ]
