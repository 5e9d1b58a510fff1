#!/usr/bin/env bash
# Installs the Debian packages the tests, the Molecule scenarios and the demo lab need on
# the machine that runs them: podman (runc), the real BJNP peers (nmap, tshark, the CUPS
# bjnp backend), firewall tools, debootstrap for the local images, chromium for the
# HTML report check, sshd (run only inside a test namespace, for the lockout test), netstat
# (net-tools: the listeners role where ss is missing). Safe to re-run: apt skips what is installed.
set -euo pipefail
packages=(
  podman runc uidmap slirp4netns netavark aardvark-dns fuse-overlayfs
  nmap tshark cups-backend-bjnp
  nftables iptables iproute2 debootstrap
  chromium rsync shellcheck
  openssh-server net-tools
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]}; run as root (the firewall tests need root too)" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
