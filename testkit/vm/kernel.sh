#!/usr/bin/env bash
# Fetches a Linux kernel for the virtual machine tests: Debian's cloud kernel package (a small
# kernel meant for virtual machines), unpacked with dpkg-deb into a cache directory. The tests boot
# it with an initramfs they build themselves from the static BusyBox.
#
# Result: ${EDGEFLEET_VM_KERNEL_HOME:-~/.cache/edgefleet/vm-kernel}/vmlinuz (and modules/, the
# package's kernel modules, and version, the kernel's release).
# Re-running is cheap: a no-op when the kernel is already there. Concurrent runs wait (flock).
set -euo pipefail

HOME_DIR="${EDGEFLEET_VM_KERNEL_HOME:-${HOME:-/root}/.cache/edgefleet/vm-kernel}"
# The metapackage that always names the current cloud kernel; the plain one where it is missing.
META_PACKAGES=(linux-image-cloud-amd64 linux-image-amd64)

say() { printf '[vm-kernel %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[vm-kernel] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(uname -m)" = x86_64 ] || { say "not an x86_64 machine: no test kernel fetched"; exit 0; }
if [ -s "$HOME_DIR/vmlinuz" ] && [ -s "$HOME_DIR/version" ]; then
  exit 0
fi

mkdir -p "$HOME_DIR"
exec 9>"$HOME_DIR/.lock"
flock 9
if [ -s "$HOME_DIR/vmlinuz" ] && [ -s "$HOME_DIR/version" ]; then
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  SUDO=(sudo -n)
fi

# The kernel package the metapackage depends on (linux-image-6.1.0-NN-cloud-amd64).
image_package() {
  apt-cache depends "$1" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}

pkg=""
for meta in "${META_PACKAGES[@]}"; do
  pkg=$(image_package "$meta")
  [ -n "$pkg" ] && break
done
if [ -z "$pkg" ]; then
  say "apt-get update (no kernel package known yet)"
  "${SUDO[@]}" apt-get update -qq || die "apt-get update failed"
  for meta in "${META_PACKAGES[@]}"; do
    pkg=$(image_package "$meta")
    [ -n "$pkg" ] && break
  done
fi
[ -n "$pkg" ] || die "no Debian kernel package found (tried ${META_PACKAGES[*]})"

work=$(mktemp -d "$HOME_DIR/work.XXXXXX")
trap 'rm -rf "$work"' EXIT
say "downloading $pkg"
(cd "$work" && timeout 600 apt-get download -q "$pkg" >/dev/null) || die "apt-get download $pkg failed"
deb=$(ls "$work"/*.deb | head -n1)
say "unpacking $(basename "$deb")"
mkdir "$work/root"
dpkg-deb -x "$deb" "$work/root"
kernel=$(ls "$work"/root/boot/vmlinuz-* | head -n1)
[ -s "$kernel" ] || die "$deb holds no /boot/vmlinuz-*"
release=${kernel##*/vmlinuz-}

rm -rf "$HOME_DIR/modules" "$HOME_DIR/config"
mv "$work/root/lib/modules/$release" "$HOME_DIR/modules"
cp "$work/root/boot/config-$release" "$HOME_DIR/config"
cp "$kernel" "$HOME_DIR/vmlinuz.part"
mv "$HOME_DIR/vmlinuz.part" "$HOME_DIR/vmlinuz"
# Written last: its presence says the cache is complete.
echo "$release" >"$HOME_DIR/version"
say "kernel $release in $HOME_DIR"
