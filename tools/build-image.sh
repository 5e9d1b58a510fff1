#!/usr/bin/env bash
# Builds the local Debian 12 image the Molecule scenarios and the demo lab run on:
# debootstrap into a cache folder, then `podman import` (there is no registry here).
# Re-running is a no-op while the image exists and this script is unchanged.
set -euo pipefail

# Two images from one debootstrap: ufw's package Breaks netfilter-persistent, so the ufw
# scenario gets its own image with ufw in place of iptables-persistent.
image="${BJNP_IMAGE:-localhost/netsec-bjnp-debian12:latest}"
ufw_image="${BJNP_UFW_IMAGE:-localhost/netsec-bjnp-debian12-ufw:latest}"
recipe_hash="$(sha256sum "$0" | cut -c1-16)"

up_to_date() {
  podman image exists "$1" &&
    [ "$(podman image inspect --format '{{ index .Labels "netsec.bjnp.recipe" }}' "$1")" = "$recipe_hash" ]
}
if up_to_date "$image" && up_to_date "$ufw_image"; then
  echo "images $image and $ufw_image are up to date"
  exit 0
fi

# The mirror the host itself uses (deb822 or one-line sources), so the image matches the host's view.
mirror="$(grep -hoE '^URIs: *http[^ ]+/debian$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}')"
mirror="${mirror:-$(grep -hoE '^deb +http[^ ]+/debian ' /etc/apt/sources.list 2>/dev/null | head -1 | awk '{print $2}')}"
mirror="${mirror:-http://deb.debian.org/debian}"

# python3: Ansible's target side; iptables brings both iptables-nft and iptables-legacy;
# firewalld and dbus: a managed-firewall backend; iproute2/procps: ss, sysctl.
packages=(python3 python3-apt nftables iptables firewalld dbus iproute2 procps kmod
          netbase netfilter-persistent iptables-persistent ca-certificates)

rootfs="$(mktemp -d "${TMPDIR:-/tmp}/bjnp-rootfs.XXXXXX")"
trap 'rm -rf "$rootfs"' EXIT

debootstrap --variant=minbase bookworm "$rootfs" "$mirror"

# Second stage inside the chroot: no service may start there, and iptables-persistent
# must not ask (or save the build host's rules) at install time.
printf '#!/bin/sh\nexit 101\n' > "$rootfs/usr/sbin/policy-rc.d"
chmod +x "$rootfs/usr/sbin/policy-rc.d"
chroot "$rootfs" debconf-set-selections <<'DEBCONF'
iptables-persistent iptables-persistent/autosave_v4 boolean false
iptables-persistent iptables-persistent/autosave_v6 boolean false
DEBCONF
chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"
rm -f "$rootfs/etc/machine-id"
echo 'netsec-bjnp' > "$rootfs/etc/hostname"

import_rootfs() {
  tar -C "$rootfs" --exclude=./var/lib/apt/lists --exclude=./var/cache/apt/archives \
      --exclude=./usr/sbin/policy-rc.d -c . |
    podman import --change 'CMD ["sleep", "infinity"]' \
      --change "LABEL netsec.bjnp.recipe=${recipe_hash}" - "$1"
  echo "built $1"
}
import_rootfs "$image"
chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ufw
import_rootfs "$ufw_image"
