#!/usr/bin/env bash
# Fetches Debian's kernel image matching the installed linux-headers-<kver>, for the qemu test
# of driver/kmod.  Download-only: the .deb is unpacked under $PYFALCO_KMOD_CACHE
# (/var/cache/pyfalco/kmod-qemu/img), never installed, so /boot, the initramfs hooks and the
# bootloader of this machine stay untouched.  Does nothing when an image is already there.
set -euo pipefail
CACHE=${PYFALCO_KMOD_CACHE:-/var/cache/pyfalco/kmod-qemu}
for hdr in /usr/src/linux-headers-*-amd64; do
  [ -f "$hdr/Makefile" ] || continue
  kver=${hdr#/usr/src/linux-headers-}
  if [ -e "/boot/vmlinuz-$kver" ] || [ -e "$CACHE/img/boot/vmlinuz-$kver" ]; then
    exit 0
  fi
  mkdir -p "$CACHE"
  cd "$CACHE"
  echo "fetch-kernel: downloading linux-image-$kver (not installing it)"
  apt-get download -q "linux-image-$kver" 2>&1 | grep -v "couldn't be accessed by user '_apt'" || true
  deb=$(ls -t linux-image-"$kver"_*.deb 2>/dev/null | head -1)
  [ -n "$deb" ] || { echo "fetch-kernel: download of linux-image-$kver failed" >&2; exit 1; }
  dpkg -x "$deb" img
  rm -f "$deb"
  exit 0
done
echo "fetch-kernel: no linux-headers-*-amd64 installed (apt-get install linux-headers-amd64)" >&2
exit 1
