"""The engine's core pool: a lone caller gets every core, concurrent callers never exceed them."""

from __future__ import annotations

import threading
import time

import pytest

from ocrcore.cores import CorePool


class Probe:
    """A work function that records how many calls run at once."""

    def __init__(self, seconds: float = 0.02) -> None:
        self.seconds, self.now, self.peak = seconds, 0, 0
        self.lock = threading.Lock()

    def __call__(self, x: int) -> int:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(self.seconds)
        with self.lock:
            self.now -= 1
        return x * x


def test_map_keeps_order_and_a_lone_caller_uses_every_core() -> None:
    pool = CorePool(3)
    probe = Probe()
    with pool.hold():
        assert pool.map(probe, list(range(12))) == [x * x for x in range(12)]
    assert probe.peak == 3
    assert pool.free == 3


def test_busy_cores_are_not_borrowed() -> None:
    pool = CorePool(2)
    probe = Probe()
    other_holds, release = threading.Event(), threading.Event()

    def other() -> None:
        with pool.hold():
            other_holds.set()
            release.wait(5)

    t = threading.Thread(target=other)
    t.start()
    other_holds.wait(5)
    with pool.hold():
        assert pool.map(probe, list(range(6))) == [x * x for x in range(6)]
    release.set()
    t.join()
    assert probe.peak == 1  # the second core was held by the other caller


def test_concurrent_callers_never_exceed_the_cores() -> None:
    pool = CorePool(2)
    probe = Probe(0.005)

    def caller(k: int) -> list[int]:
        with pool.hold():
            return pool.map(probe, list(range(k, k + 8)))

    threads_out: list[list[int]] = []
    ts = [threading.Thread(target=lambda k=k: threads_out.append(caller(k))) for k in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(threads_out) == 6 and probe.peak <= 2
    assert pool.free == 2


def test_errors_propagate_and_tokens_come_back() -> None:
    pool = CorePool(2)

    def boom(x: int) -> int:
        if x == 3:
            raise ValueError("bad item")
        time.sleep(0.001)
        return x

    with pool.hold(), pytest.raises(ValueError, match="bad item"):
        pool.map(boom, list(range(10)))
    time.sleep(0.05)
    assert pool.free == 2


def test_try_take_respects_waiters_and_hold_is_reentrant() -> None:
    pool = CorePool(2)
    with pool.hold():
        with pool.hold():  # nested in the same thread: one token
            assert pool.free == 1
        assert pool.try_take(1)
        assert not pool.try_take(1)
        pool.give(1)
    assert pool.free == 2
    with pytest.raises(ValueError):
        CorePool(0)


def test_a_lent_core_is_free_while_lent_and_taken_back_after() -> None:
    pool = CorePool(2)
    with pool.hold():
        assert pool.free == 1
        with pool.lent():
            assert pool.free == 2
        assert pool.free == 1
    with pool.lent():  # holding none: nothing to lend
        assert pool.free == 2
    assert pool.free == 2


@pytest.mark.parametrize("sizes, limit, most_at_once", [
    (((960, 1280), (960, 1280)), 1_250_000, 1),
    (((960, 1280), (960, 1280)), 0, 2),
    (((960, 1280), (384, 384)), 1_250_000, 1),
    (((400, 400), (400, 400)), 1_250_000, 2),
])
def test_detections_at_once_stay_under_the_pixel_budget(sizes: tuple, limit: int, most_at_once: int) -> None:
    """DetParams.concurrent_pixels: two requests detecting 1280x960 pages at once (each ~200 MB
    of activations), or a 1280x960 page and a small image (raised to 736x736 px), run their
    detections one after the other, the waiting one lending its core; two small images (2 x
    541,696 px) still overlap, and with no limit everything does. Real tiny detector, its session
    wrapped to count runs."""
    from pathlib import Path

    import numpy as np

    from ocrcore.detect import Detector, DetParams
    from ocrcore.runtime import make_session

    from .helpers import ROOT

    model = Path(ROOT) / "models" / "build" / "tiny" / "det.fp32.onnx"
    pool = CorePool(2)
    detector = Detector(make_session(model, 1), DetParams(concurrent_pixels=limit), cores=pool)
    state = {"now": 0, "most": 0, "lent_seen": False}
    lock = threading.Lock()
    run = detector.session.run

    class Counting:
        def run(self, names, feeds):
            with lock:
                state["now"] += 1
                state["most"] = max(state["most"], state["now"])
            try:
                time.sleep(0.2)  # make the two calls overlap if nothing stops them
                with lock:  # by now the other request waits: its core is free for this one
                    state["lent_seen"] |= pool.free > 0
                return run(names, feeds)
            finally:
                with lock:
                    state["now"] -= 1

        def get_inputs(self):
            return detector.session.get_inputs()

    detector.session = Counting()  # type: ignore[assignment]
    barrier = threading.Barrier(2)

    def request(h: int, w: int) -> None:
        with pool.hold():
            barrier.wait()
            detector.detect(np.full((h, w, 3), 255, np.uint8), wide=False)

    threads = [threading.Thread(target=request, args=size) for size in sizes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert state["most"] == most_at_once
    if most_at_once == 1:
        assert state["lent_seen"], "the waiting request kept its core"
    assert pool.free == 2
    assert detector.budget is None or detector.budget.used == 0


def test_pixel_budget_serves_waiting_pages_in_order() -> None:
    """ocrcore.detect.PixelBudget: a lone taker always gets in; a waiting large page is not passed
    by a smaller one that would fit; tiles (add) never wait."""
    from ocrcore.detect import PixelBudget

    budget = PixelBudget(100)
    assert budget.take(500, block=False)  # alone: whatever its size
    assert not budget.take(1, block=False)
    budget.give(500)
    assert budget.take(60, block=False)
    got: list[str] = []
    waiter = threading.Thread(target=lambda: (budget.take(80, block=True), got.append("page")))
    waiter.start()
    deadline = time.monotonic() + 5
    while budget._next == budget._turn and time.monotonic() < deadline:  # until it waits
        time.sleep(0.01)
    assert not budget.take(30, block=False), "60 + 30 fits, but the page of 80 waits first"
    budget.add(30)  # a tile does not wait
    assert budget.used == 90 and not got
    budget.give(30)
    budget.give(60)
    waiter.join(5)
    assert got == ["page"] and budget.used == 80
    budget.give(80)
    assert budget.used == 0
