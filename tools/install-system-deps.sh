#!/usr/bin/env bash
# Installs the Debian packages pyfalco builds and tests with, only those missing.
# Called by `make install`; safe to run again (does nothing when all are present).
set -euo pipefail
PKGS=(clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool sysdig pkg-config gcc make runc procps iproute2 openssl)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "install-system-deps: missing Debian packages: ${missing[*]}" >&2
  echo "install-system-deps: not root; install them with: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 0
fi
echo "install-system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
