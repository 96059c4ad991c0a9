"""The live system's state, in the metadata types a capture file gives (`scap.metadata`).

`scap.platform.procfs.snapshot()`: threads with their fds, users, groups, interfaces.
"""
__all__ = ["procfs"]
