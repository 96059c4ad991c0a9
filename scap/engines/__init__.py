"""Event sources other than capture files.

`scap.engines.bpf.BpfSource`: live events from our CO-RE eBPF probe (driver/bpf).
Imported lazily: loading this package does not load libbpf.
"""
__all__ = ["bpf"]
