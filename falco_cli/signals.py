"""Signal handling: handlers only set flags; the event loop acts on them between events.

SIGINT/SIGTERM: stop cleanly (summary printed). SIGHUP: reload config and rules in place.
SIGUSR1: reopen file outputs. Acting between events (Falco's ``g_*_signal`` atomics) means no
alert is ever half-processed when a reload swaps the engine.
"""
from __future__ import annotations

import signal
import threading
from types import FrameType


class SignalFlags:
    def __init__(self) -> None:
        self.terminate = threading.Event()
        self.reload = threading.Event()
        self.reopen = threading.Event()
        self.last_terminate_signal: int | None = None
        # one attribute for the event loop to test per event (cheaper than three Events)
        self.pending = False
        # called from the handler: lets a blocking live source end its iteration
        self.on_terminate: list[object] = []

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._on_terminate)
        signal.signal(signal.SIGTERM, self._on_terminate)
        signal.signal(signal.SIGHUP, self._on_reload)
        signal.signal(signal.SIGUSR1, self._on_reopen)

    def _on_terminate(self, signum: int, frame: FrameType | None) -> None:
        self.last_terminate_signal = signum
        self.terminate.set()
        self.pending = True
        for cb in self.on_terminate:
            cb()  # type: ignore[operator]

    def _on_reload(self, signum: int, frame: FrameType | None) -> None:
        self.reload.set()
        self.pending = True

    def _on_reopen(self, signum: int, frame: FrameType | None) -> None:
        self.reopen.set()
        self.pending = True

    def any(self) -> bool:
        return self.terminate.is_set() or self.reload.is_set() or self.reopen.is_set()
