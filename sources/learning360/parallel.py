"""Fan-out of per-item requests: one pool per run, fed by a background thread (dlt's
``parallelized=True`` is fed from the main thread, which stalls it while parsing), the answers
in flight or unread bounded by ``buffer``; the first exception cancels the rest."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sized
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_BUFFER = 200  # answers a fan-out may hold ahead of its consumer (~4 s at 50/s)
MAX_BATCH = 500


class FanOut:
    """One pool of ``workers`` threads for every fan-out of a source run; ``stats`` (a
    RequestStats) counts planned and answered calls for the progress ETA."""

    def __init__(self, workers: int, stats: Any = None):
        self.workers = max(1, int(workers))
        self.stats = stats
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def batches(
        self, fn: Callable[[T], R], items: Iterable[T], buffer=DEFAULT_BUFFER, max_batch=MAX_BATCH
    ) -> Iterator[list[tuple[T, R]]]:
        """Lists of ``(item, fn(item))`` in completion order: every answer ready at that moment
        (1 to ``max_batch``), so the consuming resource yields often. ``items`` may stream."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="learning360")
            executor = self._executor
        if self.stats is not None:
            fn, items = _counted(self.stats, fn, items)
        return _prefetch(executor, fn, items, max(buffer, 2 * self.workers), max_batch)


def bounded_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[tuple[T, R]]:
    """``(item, fn(item))`` as calls complete, on a pool of its own."""
    pool = FanOut(workers)
    try:
        for batch in pool.batches(fn, items):
            yield from batch
    finally:
        pool.close()


def _counted(stats: Any, fn: Callable[[T], R], items: Iterable[T]) -> tuple[Callable, Iterable]:
    """``fn`` and ``items`` counting planned calls (a stream's as read) and answered calls."""

    def call(item: T) -> R:
        try:
            return fn(item)
        finally:
            stats.add(calls_done=1)

    if isinstance(items, Sized):
        stats.add(calls_planned=len(items))
        return call, items
    return call, (stats.add(calls_planned=1) or item for item in items)


def _prefetch(
    executor: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T], buffer: int, most: int
) -> Iterator[list[tuple[T, R]]]:
    results: queue.SimpleQueue[Any] = queue.SimpleQueue()  # (item, value, error) or the end
    slots = threading.Semaphore(buffer)
    cancelled = threading.Event()

    def call(item: T) -> None:
        if cancelled.is_set():
            return
        try:
            results.put((item, fn(item), None))
        except BaseException as exc:  # handed to the consumer, which raises it
            results.put((item, None, exc))

    def feed() -> None:
        submitted = 0
        try:
            for item in items:
                while not slots.acquire(timeout=0.2):
                    if cancelled.is_set():
                        return
                if cancelled.is_set():
                    return
                executor.submit(call, item)
                submitted += 1
        except BaseException as exc:
            results.put((submitted, exc))
            return
        results.put((submitted, None))

    feeder = threading.Thread(target=feed, name="learning360-feed", daemon=True)
    feeder.start()
    received = 0
    expected: int | None = None
    try:
        while expected is None or received < expected:
            batch: list[tuple[T, R]] = []
            message = results.get()
            while True:
                if len(message) == 2:  # the feeder's end: how many were submitted
                    expected, error = message
                else:
                    received += 1
                    slots.release()
                    item, value, error = message
                    batch.append((item, value))
                if error is not None:
                    raise error
                if len(batch) >= most or (expected is not None and received >= expected):
                    break
                try:
                    message = results.get_nowait()
                except queue.Empty:
                    break
            if batch:
                yield batch
    finally:
        cancelled.set()
        feeder.join(timeout=5)
