"""Fan-out of per-item requests on one pool per run: at most ``buffer`` answers in flight or
unread, refilled as the consumer reads them; the first exception cancels the rest."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterable, Iterator, Sized
from concurrent.futures import Future, ThreadPoolExecutor
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
        # its threads start with the first call
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="learning360")

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def batches(
        self, fn: Callable[[T], R], items: Iterable[T], buffer=DEFAULT_BUFFER, max_batch=MAX_BATCH
    ) -> Iterator[list[tuple[T, R]]]:
        """Lists of ``(item, fn(item))`` in completion order: every answer ready at that moment
        (1 to ``max_batch``), so the consuming resource yields often. ``items`` may stream."""
        if (stats := self.stats) is not None and isinstance(items, Sized):
            stats.add(calls_planned=len(items))
        elif stats is not None:  # a stream's calls are planned as read
            items = (stats.add(calls_planned=1) or item for item in items)
        return _window(self._executor, fn, items, max(buffer, 2 * self.workers), max_batch, stats)


def _window(executor, fn: Callable[[T], R], items: Iterable[T], buffer: int, most: int, stats):
    finished: queue.SimpleQueue[Future] = queue.SimpleQueue()  # filled by the pool's threads
    pending: set[Future] = set()

    def call(item: T) -> tuple[T, R]:
        try:
            return item, fn(item)
        finally:
            if stats is not None:  # answered calls, for the progress ETA
                stats.add(calls_done=1)

    def answers(block: bool) -> Iterator[list[tuple[T, R]]]:
        done = [finished.get()] if block else []
        while not finished.empty():
            done.append(finished.get())
        pending.difference_update(done)
        pairs = [future.result() for future in done]  # raises the first exception
        return (pairs[start : start + most] for start in range(0, len(pairs), most))

    try:
        for item in items:
            future = executor.submit(call, item)
            pending.add(future)
            future.add_done_callback(finished.put)
            yield from answers(block=len(pending) >= buffer)
        while pending:
            yield from answers(block=True)
    finally:
        for future in pending:
            future.cancel()


def bounded_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[tuple[T, R]]:
    pool = FanOut(workers)
    try:
        for batch in pool.batches(fn, items):
            yield from batch
    finally:
        pool.close()
