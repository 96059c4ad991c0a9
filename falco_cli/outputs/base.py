"""The output worker: a bounded queue and one thread per output.

Why one queue per output (Falco has one shared queue): a dead HTTP endpoint must not hold back the
file or stdout output, and event processing must never wait on any of them. ``submit`` never
blocks: when an output's queue is full the notification is dropped for that output and counted
(Falco's "Outputs queue out of memory" path). A failed delivery is retried with exponential
backoff up to ``max_retries`` times, then counted as failed and logged; both counters are exported
on ``/metrics``.
"""
from __future__ import annotations

import queue
import threading
import time
from typing import Any

from falco_cli import log
from falco_cli.outputs.formatting import Message

_STOP = object()
_REOPEN = object()
_FLUSH = object()

DEFAULT_QUEUE_CAPACITY = 10000


class OutputError(Exception):
    """Delivery failed; ``retry`` says whether trying again may help (connection refused: yes,
    HTTP 400: no)."""

    def __init__(self, output: str, message: str, retry: bool = True):
        super().__init__(f"{output}: {message}")
        self.output = output
        self.retry = retry


class Output:
    """Subclasses implement ``write(msg)`` and may override ``flush``, ``reopen``, ``cleanup``."""

    name = "output"

    def __init__(self, *, buffered: bool = False, queue_capacity: int = 0,
                 max_retries: int = 3, backoff_s: float = 0.1, max_backoff_s: float = 2.0):
        self.buffered = buffered
        cap = queue_capacity if queue_capacity > 0 else DEFAULT_QUEUE_CAPACITY
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=cap)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.sent = 0
        self.dropped = 0       # queue full
        self.failed = 0        # gave up after retries
        self.retries = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- producer side (event loop thread) -----------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"output-{self.name}", daemon=True)
        self._thread.start()

    def submit(self, msg: Message) -> bool:
        try:
            self._queue.put_nowait(msg)
            return True
        except queue.Full:
            if self.dropped == 0:
                log.error(f"{self.name} output queue full. Drop event and continue on ...")
            self.dropped += 1
            return False

    def request_reopen(self) -> None:
        self._put_ctrl(_REOPEN)

    def request_flush(self) -> None:
        self._put_ctrl(_FLUSH)

    def _put_ctrl(self, ctrl: object) -> None:
        try:
            self._queue.put_nowait(ctrl)
        except queue.Full:
            log.warning(f"{self.name} output queue full, control message lost")

    def pending(self) -> int:
        return self._queue.qsize()

    def stop(self, timeout_s: float) -> bool:
        """Drain what is queued, waiting up to ``timeout_s``; then give up on the rest (Falco:
        "output channels still blocked, discarding all remaining notifications")."""
        if self._thread is None:
            return True
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._queue.put(_STOP, timeout=max(0.01, deadline - time.monotonic()))
                break
            except queue.Full:
                if time.monotonic() >= deadline:
                    break
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            self._stopping.set()
            left = self._drain_discard()
            log.log("notice", f"{self.name} output channel still blocked, discarding all remaining "
                              f"notifications ({left})")
            self.failed += left
            self._thread.join(0.5)
            return False
        return True

    def _drain_discard(self) -> int:
        n = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return n
            if isinstance(item, Message):
                n += 1

    # --- worker side ---------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                self._safe(self.flush)
                self._safe(self.cleanup)
                return
            if item is _REOPEN:
                self._safe(self.reopen)
                continue
            if item is _FLUSH:
                self._safe(self.flush)
                continue
            self._deliver(item)
            if not self.buffered or self._queue.empty():
                self._safe(self.flush)

    def _deliver(self, msg: Message) -> None:
        delay = self.backoff_s
        attempt = 0
        while True:
            if self._stopping.is_set():
                self.failed += 1
                return
            try:
                self.write(msg)
                self.sent += 1
                return
            except Exception as e:  # every failure of a sink is reported, never fatal
                retry = getattr(e, "retry", True)
                if not retry or attempt >= self.max_retries:
                    self.failed += 1
                    if self.failed <= 10 or self.failed % 1000 == 0:  # a dead sink: no log flood
                        log.error(f"{self.name}: {e} (notification for rule '{msg.rule}' not "
                                  f"delivered after {attempt + 1} attempt(s); {self.failed} so "
                                  f"far)")
                    self._safe(self.on_failure)
                    return
                attempt += 1
                self.retries += 1
                self._safe(self.on_failure)
                time.sleep(delay)
                delay = min(self.max_backoff_s, delay * 2)

    def _safe(self, fn: Any) -> None:
        try:
            fn()
        except Exception as e:
            log.error(f"{self.name}: {e}")

    # --- sink hooks ----------------------------------------------------------------------------
    def write(self, msg: Message) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        pass

    def reopen(self) -> None:
        pass

    def cleanup(self) -> None:
        pass

    def on_failure(self) -> None:
        """Called after a failed attempt: drop a broken connection/pipe so the retry starts
        fresh."""
        self.cleanup()
