"""Write ``demo.scap``: a small capture to try pyfalco on without root (``pyfalco -e demo.scap``).

A small synthetic story (no data from any real machine): in an ssh session, ``bash`` runs
``cat /etc/shadow`` (a sensitive file read by an untrusted program) and ``tee -a /etc/hosts``
(a write below /etc), each opening, reading or writing, and closing its file.

    python falco_cli/data/make_demo.py [OUT]      # default: falco_cli/data/demo.scap
"""
from __future__ import annotations

import os
import sys
from typing import Any

from scap.metadata import GroupInfo, MachineInfo, ProcInfo, UserInfo
from scap.record import EventRecord
from scap.testing import EventBuilder, write_capture

O_RDONLY, O_WRONLY, O_APPEND, O_CLOEXEC = 1, 2, 1 << 3, 1 << 12  # PPM_O_* open flags
T0 = 1_700_000_000_000_000_000


def events() -> list[EventRecord]:
    out: list[EventRecord] = []
    b = EventBuilder(ts=T0, step=25_000)

    def file_session(tid: int, path: str, flags: int, data: bytes, write: bool) -> None:
        out.append(b.build("SYSCALL_OPENAT_2_E", {"dirfd": -100, "name": path, "flags": flags,
                                                  "mode": 0}, tid=tid))
        out.append(b.build("SYSCALL_OPENAT_2_X", {"fd": 3, "dirfd": -100, "name": path,
                                                  "flags": flags, "mode": 0, "dev": 0x803},
                           tid=tid))
        kind = "WRITE" if write else "READ"
        out.append(b.build(f"SYSCALL_{kind}_E", {"fd": 3, "size": len(data)}, tid=tid))
        out.append(b.build(f"SYSCALL_{kind}_X", {"res": len(data), "data": data}, tid=tid))
        out.append(b.build("SYSCALL_CLOSE_E", {"fd": 3}, tid=tid))
        out.append(b.build("SYSCALL_CLOSE_X", {"res": 0}, tid=tid))

    file_session(1001, "/etc/shadow", O_RDONLY | O_CLOEXEC, b"root:*:19000:0:99999:7:::\n", False)
    b.ts += 1_000_000_000
    file_session(1002, "/etc/hosts", O_WRONLY | O_APPEND, b"10.0.0.66 updates.example\n", True)
    return out


def _proc(**kw: Any) -> ProcInfo:
    """A root process of the story, its cwd /root/."""
    return ProcInfo(cwd="/root/", fdlimit=1024, uid=0, gid=0, loginuid=0, **kw)


def processes() -> list[ProcInfo]:
    return [
        _proc(tid=1, pid=1, ptid=0, comm="systemd", exe="/sbin/init", exepath="/sbin/init"),
        _proc(tid=800, pid=800, ptid=1, comm="sshd", exe="/usr/sbin/sshd",
              exepath="/usr/sbin/sshd", args=["-D"]),
        _proc(tid=1000, pid=1000, ptid=800, comm="bash", exe="-bash", exepath="/usr/bin/bash"),
        _proc(tid=1001, pid=1001, ptid=1000, comm="cat", exe="cat", exepath="/usr/bin/cat",
              args=["/etc/shadow"]),
        _proc(tid=1002, pid=1002, ptid=1000, comm="tee", exe="tee", exepath="/usr/bin/tee",
              args=["-a", "/etc/hosts"]),
    ]


def main(out: str) -> None:
    write_capture(out, events(), processes=processes(),
                  machine=MachineInfo(num_cpus=2, memory_size_bytes=4 << 30, max_pid=4194304,
                                      hostname="demo"),
                  users=[UserInfo(uid=0, gid=0, name="root", homedir="/root", shell="/bin/bash")],
                  groups=[GroupInfo(gid=0, name="root")])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else
         os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo.scap"))
