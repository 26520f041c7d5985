"""Sharing the CPU between concurrent images: a lone image uses every core, a busy engine never
runs more inference threads than it has cores.

Every ONNX Runtime session of the engine runs single-threaded except the detector's "wide"
twin; parallelism comes from here instead. A call to :meth:`OCREngine.ocr` holds one core token
while it computes (:meth:`CorePool.hold`). Work that splits (recognition batches, detector
tiles) goes through :meth:`CorePool.map`: the calling thread works through the items and idle
cores join in, each helper taking a token for one item at a time and only while no image is
waiting for a core, so a second request is never starved by the first one's helpers. The
detector runs on its multi-threaded session only when it can take the extra tokens at once
(:meth:`CorePool.try_take`).

Why not ONNX Runtime's own threads for everything: with ``workers x threads`` pools a lone
request left a core idle (1 thread each) or a loaded server ran twice as many threads as cores
(2 threads each); both were measured in docs/performance.md.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_HELD = threading.local()  # tokens the current thread holds (so nested holds don't deadlock)


class CorePool:
    """``size`` core tokens shared by every call of one engine (see the module docstring)."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a core pool needs at least one core")
        self.size = size
        self._free = size
        self._waiting = 0
        self._cond = threading.Condition()
        self._helpers = ThreadPoolExecutor(max_workers=max(1, size - 1), thread_name_prefix="ocr-core") if size > 1 else None

    @property
    def free(self) -> int:
        return self._free

    def _take(self, n: int, block: bool) -> bool:
        with self._cond:
            if not block:
                if self._waiting or self._free < n:
                    return False
                self._free -= n
                return True
            self._waiting += 1
            try:
                while self._free < n:
                    self._cond.wait()
                self._free -= n
                return True
            finally:
                self._waiting -= 1

    def _give(self, n: int) -> None:
        with self._cond:
            self._free += n
            self._cond.notify_all()

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold one core for the duration (blocks while all are busy). Re-entrant per thread."""
        depth = getattr(_HELD, "depth", 0)
        if depth == 0:
            self._take(1, block=True)
        _HELD.depth = depth + 1
        try:
            yield
        finally:
            _HELD.depth = depth
            if depth == 0:
                self._give(1)

    @contextmanager
    def lent(self) -> Iterator[None]:
        """Give the core this thread holds (:meth:`hold`) back for the duration, e.g. while it
        waits for a lock, so other work can use it; take one again (blocking) on exit. Nothing
        happens for a thread that holds none."""
        held = getattr(_HELD, "depth", 0) > 0
        if held:
            self._give(1)
        try:
            yield
        finally:
            if held:
                self._take(1, block=True)

    def try_take(self, n: int) -> bool:
        """Take ``n`` extra cores now if they are free and nobody waits; pair with :meth:`give`."""
        return n <= 0 or self._take(n, block=False)

    def give(self, n: int) -> None:
        if n > 0:
            self._give(n)

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``[fn(x) for x in items]``, with idle cores helping; results in order. Exceptions propagate."""
        n = len(items)
        results: list[R | None] = [None] * n
        if n == 0:
            return []
        if n == 1 or self._helpers is None:
            return [fn(x) for x in items]
        cond = threading.Condition()
        state = {"next": 0, "finished": 0}
        errors: list[BaseException] = []

        def claim() -> int | None:
            with cond:
                if errors or state["next"] >= n:
                    return None
                i = state["next"]
                state["next"] += 1
                return i

        def run(i: int) -> None:
            try:
                results[i] = fn(items[i])
            except BaseException as exc:
                with cond:
                    errors.append(exc)
            finally:
                with cond:
                    state["finished"] += 1
                    cond.notify_all()

        def helper() -> None:
            # A helper queued behind another image's helpers may start after the work is done:
            # it then finds nothing to claim. The caller never waits for helpers, only for items.
            while True:
                if not self.try_take(1):
                    return
                try:
                    i = claim()
                    if i is None:
                        return
                    run(i)
                finally:
                    self.give(1)

        for _ in range(min(self.size - 1, n - 1)):
            self._helpers.submit(helper)
        while (i := claim()) is not None:
            run(i)
        with cond:  # every claimed item finished (with errors, nothing new is claimed)
            cond.wait_for(lambda: state["finished"] == state["next"])
        if errors:
            raise errors[0]
        return results  # type: ignore[return-value]

    def shutdown(self) -> None:
        if self._helpers is not None:
            self._helpers.shutdown(wait=False, cancel_futures=True)
