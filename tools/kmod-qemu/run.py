#!/usr/bin/env python3
"""Build the pyfalco kernel module for a Debian kernel and run it inside qemu.

    tools/kmod-qemu/run.py --out DIR [--table FILE] [--timeout 90]

Steps: find a kernel with both headers (/usr/src/linux-headers-<kver>) and an image
(/boot/vmlinuz-<kver> or the download-only extraction of fetch-kernel.sh under
/var/cache/pyfalco/kmod-qemu), build driver/kmod (in a copy under DIR), link tools/kmod-qemu/guest.c
with scap/_native/kmod_ring.c statically, pack an initramfs (busybox-static, the module, the
guest program, the syscall table) and boot it: ttyS0 -> DIR/console.log, ttyS1 (raw) ->
DIR/records.bin.  Prints one JSON object (paths, kver, seconds).  Exit status 3 with a
"missing: ..." message when a prerequisite is absent, so callers can skip.

This host may be unable to load modules at all; the guest kernel is what runs the module.
"""
from __future__ import annotations

import argparse
import glob
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("PYFALCO_KMOD_CACHE", "/var/cache/pyfalco/kmod-qemu"))
MISSING = 3


class MissingError(Exception):
    """A prerequisite (qemu, headers, kernel image, busybox, static libc) is absent."""


def find_kernel() -> tuple[str, Path, Path]:
    """(kver, headers dir, vmlinuz) for the first kernel that has both."""
    env_img = os.environ.get("PYFALCO_KMOD_KERNEL")
    for hdr in sorted(glob.glob("/usr/src/linux-headers-*"), reverse=True):
        if not Path(hdr, "Module.symvers").exists() and not Path(hdr, "Makefile").exists():
            continue
        kver = Path(hdr).name.removeprefix("linux-headers-")
        if kver.endswith("-common"):
            continue
        for img in ([Path(env_img)] if env_img else []) + [
                Path(f"/boot/vmlinuz-{kver}"), CACHE / "img" / "boot" / f"vmlinuz-{kver}"]:
            if img.exists():
                return kver, Path(hdr), img
    raise MissingError("kernel headers with a matching image (apt-get install linux-headers-amd64; "
                  "tools/kmod-qemu/fetch-kernel.sh)")


def need(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise MissingError(tool)
    return path


def build_module(hdr: Path, out: Path, log: io.StringIO) -> Path:
    """Build in a copy under `out` (driver/kmod + the shared header, same relative layout), so
    parallel runs and the source tree never share build products."""
    tree = out / "src"
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree(ROOT / "driver" / "kmod", tree / "kmod",
                    ignore=shutil.ignore_patterns("*.o", "*.ko", "*.mod*", ".*.cmd",
                                                  "Module.symvers", "modules.order"))
    (tree / "bpf").mkdir()
    shutil.copy(ROOT / "driver" / "bpf" / "events.h", tree / "bpf" / "events.h")
    res = subprocess.run(["make", "-s", "-C", str(tree / "kmod"), f"KDIR={hdr}"],
                         capture_output=True, text=True, check=False)
    log.write(res.stdout + res.stderr)
    ko = tree / "kmod" / "pyfalco.ko"
    if res.returncode != 0 or not ko.exists():
        raise RuntimeError(f"module build failed:\n{res.stdout}{res.stderr}")
    return ko


def build_guest(out: Path) -> Path:
    exe = out / "kmod-guest"
    if not Path("/usr/lib/x86_64-linux-gnu/libc.a").exists():
        raise MissingError("static libc (libc6-dev)")
    cmd = [need("gcc"), "-static", "-O2", "-Wall", f"-I{ROOT}/scap/_native",
           f"-I{ROOT}/driver/kmod", f"-I{ROOT}/driver/bpf", str(ROOT / "tools/kmod-qemu/guest.c"),
           str(ROOT / "scap/_native/kmod_ring.c"), "-o", str(exe)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"guest build failed:\n{res.stderr}")
    return exe


def _cpio_entry(buf: io.BytesIO, ino: int, name: str, mode: int, data: bytes = b"",
                rdev: tuple[int, int] = (0, 0)) -> None:
    """One "newc" cpio entry (the initramfs format the kernel unpacks)."""
    nb = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(nb), 0]
    buf.write(b"070701" + b"".join(b"%08X" % f for f in fields) + nb)
    buf.write(b"\0" * (-(110 + len(nb)) % 4))
    buf.write(data)
    buf.write(b"\0" * (-len(data) % 4))


INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
ip link set lo up
if insmod /pyfalco.ko ring_bytes={ring_bytes}; then
  echo "KMOD insmod=ok"
  /kmod-guest /syscalls.bin /dev/ttyS1 /syscalls2.bin
  echo "KMOD guest_rc=$?"
  rmmod pyfalco && echo "KMOD rmmod=ok"
  dmesg | grep -E "BUG|WARNING|Oops|Call Trace" | sed 's/^/KMOD_DMESG /'
else
  echo "KMOD insmod=failed"
fi
poweroff -f
"""


def build_initramfs(out: Path, ko: Path, guest: Path, table: bytes, table2: bytes,
                    ring_bytes: int) -> Path:
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        raise MissingError("busybox (busybox-static)")
    kmod = out / "pyfalco.ko"
    shutil.copy(ko, kmod)
    subprocess.run(["strip", "--strip-debug", str(kmod)], check=False)
    buf = io.BytesIO()
    d, f, x = stat.S_IFDIR | 0o755, stat.S_IFREG | 0o644, stat.S_IFREG | 0o755
    entries = [("bin", d, b""), ("proc", d, b""), ("sys", d, b""), ("dev", d, b""),
               ("tmp", d, b""), ("bin/busybox", x, busybox.read_bytes()),
               ("init", x, INIT.format(ring_bytes=ring_bytes).encode()),
               ("pyfalco.ko", f, kmod.read_bytes()), ("kmod-guest", x, guest.read_bytes()),
               ("syscalls.bin", f, table), ("syscalls2.bin", f, table2)]
    ino = 1
    for name, mode, data in entries:
        _cpio_entry(buf, ino, name, mode, data)
        ino += 1
    _cpio_entry(buf, ino, "dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
    _cpio_entry(buf, ino + 1, "TRAILER!!!", 0)
    path = out / "initramfs.cpio"
    path.write_bytes(buf.getvalue())
    return path


def run_qemu(out: Path, kernel: Path, initrd: Path, timeout: float) -> float:
    qemu = need("qemu-system-x86_64")
    # TCG by default: it works everywhere (nested KVM can refuse the guest's MSRs);
    # PYFALCO_KMOD_ACCEL=kvm for speed where KVM is usable.
    accel = os.environ.get("PYFALCO_KMOD_ACCEL", "tcg")
    cmd = [qemu, "-nodefaults", "-display", "none", "-no-reboot", "-m", "512", "-smp", "2",
           "-accel", accel, "-kernel", str(kernel), "-initrd", str(initrd),
           "-append", "console=ttyS0 quiet loglevel=3 panic=-1",
           "-serial", f"file:{out / 'console.log'}", "-serial", f"file:{out / 'records.bin'}"]
    t0 = time.monotonic()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    (out / "qemu.log").write_text(" ".join(cmd) + "\n" + res.stdout + res.stderr)
    if res.returncode != 0:
        raise RuntimeError(f"qemu exited {res.returncode}: {res.stderr[-2000:]}")
    return time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--table", type=Path, help="syscall table (default: every syscall)")
    ap.add_argument("--ring-bytes", type=int, default=256 << 10)
    ap.add_argument("--timeout", type=float, default=100.0)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        need("qemu-system-x86_64")
        need("make")
        kver, hdr, kernel = find_kernel()
        sys.path.insert(0, str(ROOT))
        from scap.engines.kmod import syscall_table

        if args.table:
            table = args.table.read_bytes()
        else:
            interesting, ppm_sc, _ = syscall_table(None)
            table = interesting + ppm_sc
        # phase 3: only openat, the guest's own process dropped
        interesting, ppm_sc, _ = syscall_table({"openat"}, with_state=False)
        table2 = interesting + ppm_sc
        log = io.StringIO()
        t0 = time.monotonic()
        ko = build_module(hdr, args.out, log)
        guest = build_guest(args.out)
        initrd = build_initramfs(args.out, ko, guest, table, table2, args.ring_bytes)
        t_build = time.monotonic() - t0
        t_boot = run_qemu(args.out, kernel, initrd, args.timeout)
    except MissingError as exc:
        print(f"missing: {exc}", file=sys.stderr)
        return MISSING
    print(json.dumps({"kver": kver, "kernel": str(kernel), "headers": str(hdr),
                      "console": str(args.out / "console.log"),
                      "records": str(args.out / "records.bin"),
                      "build_s": round(t_build, 2), "qemu_s": round(t_boot, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
