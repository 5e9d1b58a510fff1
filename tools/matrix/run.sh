#!/usr/bin/env bash
# The ansible-core matrix: for each minor of tools/matrix/cores.txt, a venv of its own
# (.cache/matrix/core-<minor>, tools/matrix/make-venv.sh) with that ansible-core, its collections
# bundle and the test tools, then `ansible-test sanity` (tools/run-sanity.sh --venv) and the
# unit tests on it. A table of step durations at the end; non-zero exit on any failure.
# The minors in BJNP_MATRIX_FULL also run the integration tests of BJNP_MATRIX_INTEGRATION
# (pytest arguments; default tests/integration, all of them) and the Molecule jobs of
# BJNP_MATRIX_MOLECULE (tools/run-molecule.sh arguments; empty: all of them on every distro in
# BJNP_MOL_DISTROS) on their core.
# BJNP_MATRIX_ONLY=venv builds the venvs and runs nothing (to time the installs apart).
# Usage: tools/matrix/run.sh [MINOR...]   (no MINOR: every minor of cores.txt but the default
#   one, whose sanity and unit tests are `make sanity unit` in .venv)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
read -r -a full_minors <<< "${BJNP_MATRIX_FULL:-}"
read -r -a integration_tests <<< "${BJNP_MATRIX_INTEGRATION:-tests/integration}"
read -r -a molecule_jobs <<< "${BJNP_MATRIX_MOLECULE:-}"
logs="$root/.cache/matrix/logs"
mkdir -p "$logs"

declare -A bundle_of=()
minors=()
while read -r minor bundle; do
  [[ -z "$minor" || "$minor" == \#* ]] && continue
  bundle_of[$minor]="$bundle"
  if [ "$bundle" != default ]; then minors+=("$minor"); fi
done < tools/matrix/cores.txt
[ "$#" -gt 0 ] && minors=("$@")

results=()
failed=0
step() {  # minor step command...: run it, log it, time it
  local minor="$1" name="$2" start rc=0
  shift 2
  start=$SECONDS
  "$@" > "$logs/$minor-$name.log" 2>&1 || rc=$?
  results+=("$(printf '%-5s %-12s %-4s %5ss' "$minor" "$name" "$([ $rc = 0 ] && echo ok || echo FAIL)" $((SECONDS - start)))")
  if [ "$rc" != 0 ]; then
    failed=1
    echo "matrix: $minor $name failed (exit $rc), end of $logs/$minor-$name.log:" >&2
    tail -n 30 "$logs/$minor-$name.log" >&2
  fi
  return 0
}

for minor in "${minors[@]}"; do
  [ -n "${bundle_of[$minor]:-}" ] || { echo "matrix: $minor is not in tools/matrix/cores.txt" >&2; exit 2; }
  full=()
  if [[ " ${full_minors[*]} " == *" $minor "* ]]; then full=(--full); fi
  if [ "${bundle_of[$minor]}" = default ]; then
    venv="$root/.venv"
  else
    venv="$root/.cache/matrix/core-$minor"
    step "$minor" venv bash tools/matrix/make-venv.sh "${full[@]}" "$minor" "$venv"
  fi
  [ "${BJNP_MATRIX_ONLY:-}" = venv ] && continue
  site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
  # The tests (and the ansible-playbook they start) run this venv and its collections bundle.
  # CONTAINERS_CONF: podman runs here only with the project's containers.conf (as in the Makefile).
  env_of_venv=(env PATH="$venv/bin:$PATH" VIRTUAL_ENV="$venv"
               ANSIBLE_COLLECTIONS_PATH="$root/.cache/collections:$site"
               ANSIBLE_CONFIG="${ANSIBLE_CONFIG:-$root/ansible.cfg}"
               CONTAINERS_CONF="${CONTAINERS_CONF:-$root/tests/podman/containers.conf}")
  step "$minor" sanity "${env_of_venv[@]}" bash tools/run-sanity.sh --venv "$venv"
  # Two workers: most of the time is ansible-playbook runs (the emulated Windows host), one core each.
  step "$minor" unit "${env_of_venv[@]}" "$venv/bin/pytest" -q -p no:cacheprovider -n "${MATRIX_UNIT_WORKERS:-2}" tests/unit
  if [ "${#full[@]}" -gt 0 ]; then
    step "$minor" integration "${env_of_venv[@]}" "$venv/bin/pytest" -q -p no:cacheprovider "${integration_tests[@]}"
    step "$minor" molecule "${env_of_venv[@]}" bash tools/run-molecule.sh "${MOLECULE_WORKERS:-2}" "${molecule_jobs[@]}"
  fi
done

printf '\nansible-core matrix (logs: %s)\n' "${logs#"$root"/}"
printf '%s\n' "${results[@]}"
exit "$failed"
