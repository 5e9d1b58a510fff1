#!/usr/bin/env bash
# Records the contract round trips of every Linux backend on the real tools, for the replayed unit
# tests (tests/unit/plugins/module_utils/test_firewall_contract.py). Re-run it after a change to a
# backend's calls: nftables and iptables in a throwaway network namespace, ufw and firewalld in
# privileged containers of the local images (make image). Needs root.
# Each distro in BJNP_RECORD_DISTROS (default debian12) gets its own recording: debian12 (the
# host's own release) as above into fixtures/contract/<backend>.json; debian11 and debian13 with
# every backend in privileged containers of their images (tools/build-image.sh DISTRO) into
# fixtures/contract/<distro>/<backend>.json.
# Usage: [BJNP_RECORD_DISTROS="debian11 debian12 debian13"] tools/record-contract.sh [BACKEND...]
#   (default: all five backends)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
here="$root/tests/unit/plugins/module_utils"
fixtures="$here/fixtures/contract"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$root/tests/podman/containers.conf}"
backends=("$@")
[ "${#backends[@]}" -gt 0 ] || backends=(nftables iptables-nft iptables-legacy ufw firewalld)
token="$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')"

in_netns() {
  local ns="bjnp-rec-$token"
  ip netns add "$ns"
  trap 'ip netns del "$ns" 2>/dev/null || true' RETURN
  ip -n "$ns" link set lo up
  ip netns exec "$ns" env PYTHONPATH="$root/.cache/collections" "$root/.venv/bin/python" \
    "$here/record_contract.py" "$1" "$fixtures"
}

firewalld_start="mkdir -p /run/dbus && dbus-daemon --system --fork && { setsid -f firewalld --nofork --nopid > /var/log/firewalld.log 2>&1 < /dev/null; } && for i in \$(seq 120); do firewall-cmd --state > /dev/null 2>&1 && break; sleep 1; done"

in_container() {
  local backend="$1" out="$2" image="$3" setup="$4" name="bjnp-rec-$1-$token"
  podman run -d --name "$name" --privileged "$image" sleep infinity > /dev/null
  # EXIT too: a failing step ends the script (set -e) without running the RETURN trap.
  # shellcheck disable=SC2064 # the name is known now, and the EXIT trap runs outside this function
  trap "podman rm -f -t 0 '$name' > /dev/null 2>&1 || true" RETURN EXIT
  podman exec "$name" bash -euo pipefail -c "$setup"
  podman exec "$name" mkdir -p /tmp/c/ansible_collections/netsec/bjnp /tmp/rec
  tar -C "$root" -c plugins tests/unit/plugins/module_utils |
    podman exec -i "$name" tar -C /tmp/c/ansible_collections/netsec/bjnp -x
  # ansible.module_utils from the toolchain, as Ansible ships it to a target (an empty ansible/__init__.py).
  tar -C "$("$root/.venv/bin/python" -c 'import ansible, os; print(os.path.dirname(os.path.dirname(ansible.__file__)))')" \
      --exclude=__pycache__ -c ansible/module_utils |
    podman exec -i "$name" sh -c 'tar -C /tmp/c -x && touch /tmp/c/ansible/__init__.py'
  podman exec "$name" env PYTHONPATH=/tmp/c python3 \
    /tmp/c/ansible_collections/netsec/bjnp/tests/unit/plugins/module_utils/record_contract.py "$backend" /tmp/rec
  podman cp "$name:/tmp/rec/$backend.json" "$out/$backend.json"
}

read -r -a distros <<< "${BJNP_RECORD_DISTROS:-debian12}"
for distro in "${distros[@]}"; do
  image="localhost/netsec-bjnp-$distro:latest"
  out="$fixtures"
  [ "$distro" = debian12 ] || { out="$fixtures/$distro"; mkdir -p "$out"; }
  for backend in "${backends[@]}"; do
    case "$distro:$backend" in
      debian12:nftables|debian12:iptables-nft|debian12:iptables-legacy) in_netns "$backend" ;;
      *:nftables|*:iptables-nft|*:iptables-legacy) in_container "$backend" "$out" "$image" true ;;
      *:ufw) in_container ufw "$out" "localhost/netsec-bjnp-$distro-ufw:latest" \
               "ufw --force enable > /dev/null; ufw allow 22/tcp > /dev/null" ;;
      *:firewalld) in_container firewalld "$out" "$image" "$firewalld_start" ;;
      *) echo "unknown backend $backend" >&2; exit 2 ;;
    esac
    echo "recorded $out/$backend.json"
  done
done
