#!/usr/bin/env bash
# Records the contract round trips of every Linux backend on the real tools, for the replayed unit
# tests (tests/unit/plugins/module_utils/test_firewall_contract.py). Re-run it after a change to a
# backend's calls: nftables and iptables in a throwaway network namespace, ufw and firewalld in
# privileged containers of the local images (make image). Needs root.
# Usage: tools/record-contract.sh [BACKEND...]   (default: all five)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
here="$root/tests/unit/plugins/module_utils"
fixtures="$here/fixtures/contract"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$root/tests/podman/containers.conf}"
backends=("$@")
[ "${#backends[@]}" -gt 0 ] || backends=(nftables iptables-nft iptables-legacy ufw firewalld)
site_packages="$("$root/.venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
token="$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')"

in_netns() {
  local ns="bjnp-rec-$token"
  ip netns add "$ns"
  trap 'ip netns del "$ns" 2>/dev/null || true' RETURN
  ip -n "$ns" link set lo up
  ip netns exec "$ns" env PYTHONPATH="$root/.cache/collections" "$root/.venv/bin/python" \
    "$here/record_contract.py" "$1" "$fixtures"
}

in_container() {
  local backend="$1" image="$2" setup="$3" name="bjnp-rec-$1-$token"
  podman run -d --name "$name" --privileged "$image" sleep infinity > /dev/null
  trap 'podman rm -f -t 0 "$name" > /dev/null 2>&1 || true' RETURN
  podman exec "$name" bash -euo pipefail -c "$setup"
  podman exec "$name" mkdir -p /tmp/c/ansible_collections/netsec/bjnp /tmp/rec
  tar -C "$root" -c plugins tests/unit/plugins/module_utils |
    podman exec -i "$name" tar -C /tmp/c/ansible_collections/netsec/bjnp -x
  # The module_utils import ansible-core's own, which the image does not have.
  tar -C "$site_packages" -c ansible/__init__.py ansible/release.py ansible/_vendor ansible/module_utils |
    podman exec -i "$name" tar -C /tmp/c -x
  podman exec "$name" env PYTHONPATH=/tmp/c python3 \
    /tmp/c/ansible_collections/netsec/bjnp/tests/unit/plugins/module_utils/record_contract.py "$backend" /tmp/rec
  podman cp "$name:/tmp/rec/$backend.json" "$fixtures/$backend.json"
}

for backend in "${backends[@]}"; do
  case "$backend" in
    nftables|iptables-nft|iptables-legacy) in_netns "$backend" ;;
    ufw) in_container ufw localhost/netsec-bjnp-debian12-ufw:latest \
           "ufw --force enable > /dev/null; ufw allow 22/tcp > /dev/null" ;;
    firewalld) in_container firewalld localhost/netsec-bjnp-debian12:latest \
           "mkdir -p /run/dbus && dbus-daemon --system --fork && { setsid -f firewalld --nofork --nopid > /var/log/firewalld.log 2>&1 < /dev/null; } && for i in \$(seq 120); do firewall-cmd --state > /dev/null 2>&1 && break; sleep 1; done" ;;
    *) echo "unknown backend $backend" >&2; exit 2 ;;
  esac
  echo "recorded $fixtures/$backend.json"
done
