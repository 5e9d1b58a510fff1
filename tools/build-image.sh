#!/usr/bin/env bash
# Builds the local Debian images the Molecule scenarios and the demo lab run on: debootstrap
# into a temporary folder, then `podman import` (there is no registry here). One pair of images
# per release: localhost/netsec-bjnp-<distro>:latest and localhost/netsec-bjnp-<distro>-ufw:latest.
# Re-running is a no-op while both images exist and carry the label of the distro's recipe
# (the build function and the distro's suite and packages below; comments do not count).
# Usage: tools/build-image.sh [DISTRO...]   (debian11, debian12, debian13; default debian12)
set -euo pipefail

# python3: Ansible's target side; iptables brings both iptables-nft and iptables-legacy;
# firewalld and dbus: a managed-firewall backend; iproute2/procps: ss, sysctl.
# The same names exist in bullseye, bookworm and trixie (checked by building each).
packages=(python3 python3-apt nftables iptables firewalld dbus iproute2 procps kmod
          netbase netfilter-persistent iptables-persistent ca-certificates)
suite_of() {
  case "$1" in
    debian11) echo bullseye ;;
    debian12) echo bookworm ;;
    debian13) echo trixie ;;
    *) echo "unknown distro '$1' (known: debian11 debian12 debian13)" >&2; return 2 ;;
  esac
}
# What a release needs beyond that, as a default install (Recommends included) has it:
# firewalld 0.9 (bullseye) takes its ipset types from the ipset tool, without which it has
# none and cannot load our ipsets; firewalld 1.x (bookworm, trixie) knows them itself.
extra_packages() {
  case "$1" in
    debian11) echo ipset ;;
  esac
}

# The mirror the host itself uses (deb822 or one-line sources); it serves all three suites.
mirror="$(grep -hoE '^URIs: *http[^ ]+/debian$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}')"
mirror="${mirror:-$(grep -hoE '^deb +http[^ ]+/debian ' /etc/apt/sources.list 2>/dev/null | head -1 | awk '{print $2}')}"
mirror="${mirror:-http://deb.debian.org/debian}"

# Two images from one debootstrap: ufw's package Breaks netfilter-persistent, so the ufw
# scenarios get their own image with ufw in place of iptables-persistent.
rootfs=""
trap '[ -z "$rootfs" ] || rm -rf "$rootfs"' EXIT
build() {
  local suite="$1" image="$2" ufw_image="$3" label="$4"
  shift 4
  rootfs="$(mktemp -d "${TMPDIR:-/tmp}/bjnp-rootfs.XXXXXX")"
  debootstrap --variant=minbase "$suite" "$rootfs" "$mirror"
  # Second stage inside the chroot: no service may start there, and iptables-persistent
  # must not ask (or save the build host's rules) at install time.
  printf '#!/bin/sh\nexit 101\n' > "$rootfs/usr/sbin/policy-rc.d"
  chmod +x "$rootfs/usr/sbin/policy-rc.d"
  chroot "$rootfs" debconf-set-selections <<'DEBCONF'
iptables-persistent iptables-persistent/autosave_v4 boolean false
iptables-persistent iptables-persistent/autosave_v6 boolean false
DEBCONF
  chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" "$@"
  rm -f "$rootfs/etc/machine-id"
  echo 'netsec-bjnp' > "$rootfs/etc/hostname"
  import_rootfs "$rootfs" "$image" "$label"
  chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ufw
  import_rootfs "$rootfs" "$ufw_image" "$label"
  rm -rf "$rootfs"
  rootfs=""
}

import_rootfs() {
  local previous
  previous="$(podman image inspect --format '{{.Id}}' "$2" 2>/dev/null || true)"
  tar -C "$1" --exclude=./var/lib/apt/lists --exclude=./var/cache/apt/archives \
      --exclude=./usr/sbin/policy-rc.d -c . |
    podman import --change 'CMD ["sleep", "infinity"]' \
      --change "LABEL netsec.bjnp.recipe=$3" - "$2"
  echo "built $2"
  # The image it replaced, now untagged; kept while a container still runs on it.
  if [ -n "$previous" ] && [ "$previous" != "$(podman image inspect --format '{{.Id}}' "$2")" ]; then
    podman rmi "$previous" > /dev/null 2>&1 || true
  fi
}

up_to_date() {
  podman image exists "$1" &&
    [ "$(podman image inspect --format '{{ index .Labels "netsec.bjnp.recipe" }}' "$1")" = "$2" ]
}

[ "$#" -gt 0 ] || set -- debian12
for distro in "$@"; do suite_of "$distro" > /dev/null; done
for distro in "$@"; do
  suite="$(suite_of "$distro")"
  image="localhost/netsec-bjnp-${distro}:latest"
  ufw_image="localhost/netsec-bjnp-${distro}-ufw:latest"
  read -r -a extra <<< "$(extra_packages "$distro")"
  label="$({ declare -f build import_rootfs; echo "$suite ${packages[*]} ${extra[*]}"; } | sha256sum | cut -c1-16)"
  if up_to_date "$image" "$label" && up_to_date "$ufw_image" "$label"; then
    echo "images $image and $ufw_image are up to date"
    continue
  fi
  start="$(date +%s)"
  build "$suite" "$image" "$ufw_image" "$label" "${extra[@]}"
  echo "$distro ($suite): both images built in $(( $(date +%s) - start )) s"
done
