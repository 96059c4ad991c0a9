"""``fs.path.*`` fields: the filesystem path(s) a syscall acts on, fd or not.

sysdig 0.29.3 has no such class; these follow current Falco libs
(``sinsp_filter_check_fspath``): for a fixed set of successful exit events, ``fs.path.name``
is the path operated on (``mkdir``, ``unlink``, ``open``, ``chmod`` ...), and
``fs.path.source`` / ``fs.path.target`` the two ends of ``rename``/``link``/``symlink``/
``mount``. The ``*raw`` variants give the path as passed; the others make it absolute
against the thread's cwd and normalise it (``lexically_normal``).

Old enter/exit captures keep some paths only in the enter event; those are read from the
paired enter record, as libs does.
"""

from __future__ import annotations

import posixpath
from typing import Any

from scap import schema
from sinsp import format as fmt
from sinsp.fields.registry import REGISTRIES, FieldClassBuilder, FieldType

__all__ = ["FSPATH_CLASS", "fs_path"]

fsp = FieldClassBuilder(
    "fs.path",
    "Every syscall that has a filesystem path in its arguments has these fields set with "
    "information related to the path arguments. This differs from the fd.* fields as it "
    "includes syscalls like unlink, rename, etc. that act directly on filesystem paths as "
    "compared to opened file descriptors.",
)

# PPME name -> (success check, name param, source param, target param); a param spelled
# "<x" is read from the enter event, "@fd" is the fd's name.
_RES0, _FD_OK = "res==0", "fd!=-1"
_SPECS: dict[str, tuple[str, str | None, str | None, str | None]] = {
    "SYSCALL_MKDIR_X": (_RES0, "<path", None, None),
    "SYSCALL_MKDIR_2_X": (_RES0, "path", None, None),
    "SYSCALL_MKDIRAT_X": (_RES0, "path", None, None),
    "SYSCALL_RMDIR_X": (_RES0, "<path", None, None),
    "SYSCALL_RMDIR_2_X": (_RES0, "path", None, None),
    "SYSCALL_UNLINK_X": (_RES0, "<path", None, None),
    "SYSCALL_UNLINKAT_X": (_RES0, "<name", None, None),
    "SYSCALL_UNLINK_2_X": (_RES0, "path", None, None),
    "SYSCALL_UNLINKAT_2_X": (_RES0, "name", None, None),
    "SYSCALL_OPEN_X": (_FD_OK, "name", None, None),
    "SYSCALL_OPENAT_X": (_FD_OK, "<name", None, None),
    "SYSCALL_OPENAT_2_X": (_FD_OK, "name", None, None),
    "SYSCALL_OPENAT2_X": (_FD_OK, "name", None, None),
    "SYSCALL_FCHMODAT_X": (_RES0, "filename", None, None),
    "SYSCALL_CHMOD_X": (_RES0, "filename", None, None),
    "SYSCALL_FCHMOD_X": (_RES0, "@fd", None, None),
    "SYSCALL_CHOWN_X": (_RES0, "path", None, None),
    "SYSCALL_LCHOWN_X": (_RES0, "path", None, None),
    "SYSCALL_FCHOWN_X": (_RES0, "@fd", None, None),
    "SYSCALL_FCHOWNAT_X": (_RES0, "pathname", None, None),
    "SYSCALL_QUOTACTL_X": (_RES0, "special", None, None),
    "SYSCALL_RENAME_X": (_RES0, None, "oldpath", "newpath"),
    "SYSCALL_RENAMEAT_X": (_RES0, None, "oldpath", "newpath"),
    "SYSCALL_RENAMEAT2_X": (_RES0, None, "oldpath", "newpath"),
    "SYSCALL_LINK_X": (_RES0, None, "<newpath", "<oldpath"),
    "SYSCALL_LINKAT_X": (_RES0, None, "<newpath", "<oldpath"),
    "SYSCALL_LINK_2_X": (_RES0, None, "newpath", "oldpath"),
    "SYSCALL_LINKAT_2_X": (_RES0, None, "newpath", "oldpath"),
    "SYSCALL_SYMLINK_X": (_RES0, None, "linkpath", "target"),
    "SYSCALL_SYMLINKAT_X": (_RES0, None, "linkpath", "target"),
    "SYSCALL_MOUNT_X": (_RES0, None, "dev", "dir"),
    "SYSCALL_UMOUNT_X": (_RES0, "name", None, None),
    "SYSCALL_UMOUNT_1_X": (_RES0, "name", None, None),
    "SYSCALL_UMOUNT2_X": (_RES0, "name", None, None),
}


def _build_table() -> dict[int, tuple[str, str | None, str | None, str | None]]:
    table = {}
    for name, spec in _SPECS.items():
        code = getattr(schema.PPME, name, None)
        if code is not None:
            table[int(code)] = spec
    return table


_TABLE = _build_table()


def _param(record: Any, name: str) -> Any:
    info = record.info
    if info is None:
        return None
    for i, p in enumerate(info.params[: record.nparams]):
        if p.name == name:
            return record.param(i)
    return None


def _value(evt: Any, spec: str) -> str | None:
    if spec == "@fd":
        return None if evt.fd is None else evt.fd.name
    if spec.startswith("<"):
        enter = getattr(evt, "enter", None)
        v = None if enter is None else _param(enter, spec[1:])
    else:
        v = _param(evt.record, spec)
    if isinstance(v, bytes):
        v = v.decode("utf-8", "surrogateescape")
    return None if v is None else str(v)


def _succeeded(evt: Any, check: str) -> bool:
    ok: bool = (_param(evt.record, "res") == 0 if check == _RES0
                else _param(evt.record, "fd") != -1)
    return ok


def fs_path(evt: Any, which: int, raw: bool) -> str | None:
    """``fs.path.name`` (which=1), ``.source`` (2) or ``.target`` (3), raw or resolved."""
    spec = _TABLE.get(evt.record.type)
    if spec is None or not _succeeded(evt, spec[0]):
        return None
    pspec = spec[which]
    if pspec is None:
        return None
    path = _value(evt, pspec)
    if path is None:
        return None
    path = path.rstrip("\0")
    if raw or path.startswith("/"):
        return path
    thread = evt.thread
    if thread is None:
        return None
    joined = fmt.cwd_of(thread) + path
    norm = posixpath.normpath(joined)
    if joined.endswith("/") and norm != "/":
        norm += "/"  # lexically_normal keeps a trailing separator
    return norm


def _add(name: str, which: int, raw: bool, desc: str) -> None:
    def ex(evt: Any, arg: Any) -> Any:
        return fs_path(evt, which, raw)

    fsp.field(name, FieldType.CHARBUF, desc)(ex)


_add("fs.path.name", 1, False, "For any event type that deals with a filesystem path, the path the "
     "file syscall is operating on. This path is always fully resolved, prepending the thread cwd "
     "when needed.")  # fmt: skip
_add("fs.path.nameraw", 1, True,
     "For any event type that deals with a filesystem path, the path the "
     "file syscall is operating on, as provided to the syscall.")  # fmt: skip
_add("fs.path.source", 2, False, "For syscalls with a source and a target (mv, ln ...), the source "
     "path, fully resolved.")  # fmt: skip
_add("fs.path.sourceraw", 2, True, "For syscalls with a source and a target, the source path as "
     "provided to the syscall.")  # fmt: skip
_add("fs.path.target", 3, False, "For syscalls with a source and a target (mv, ln ...), the target "
     "path, fully resolved.")  # fmt: skip
_add("fs.path.targetraw", 3, True, "For syscalls with a source and a target, the target path as "
     "provided to the syscall.")  # fmt: skip

FSPATH_CLASS = REGISTRIES["syscall"].register(fsp.build())
