#!/usr/bin/env bash
# Installs the Debian packages pyfalco builds and tests with, only those missing.
# Called by `make install`; safe to run again (does nothing when all are present).
set -euo pipefail
PKGS=(clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool sysdig pkg-config gcc make runc procps iproute2 openssl
      qemu-system-x86 linux-headers-amd64 busybox-static libc6-dev)  # last line: driver/kmod's qemu test
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The qemu test's guest kernel: download-only, never installed (see tools/kmod-qemu/fetch-kernel.sh).
fetch_kernel() { [ "$(id -u)" != 0 ] || "$(dirname "$0")/kmod-qemu/fetch-kernel.sh" || true; }
if [ ${#missing[@]} -eq 0 ]; then fetch_kernel; exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "install-system-deps: missing Debian packages: ${missing[*]}" >&2
  echo "install-system-deps: not root; install them with: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 0
fi
echo "install-system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fetch_kernel
