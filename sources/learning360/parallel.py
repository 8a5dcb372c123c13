"""Fan-out for per-user / per-group / per-session requests, kept busy in the background.

Why not dlt's ``parallelized=True``: dlt's pool is sized by the pipeline-wide
``extract.workers`` and schedules one deferred call per item from the main thread, so the
request rate drops whenever the main thread is busy elsewhere (parsing a 70 MB
``/courses/stats`` stream, writing extracted items). Here:

* :meth:`FanOut.batches` runs ``fn`` over ``items`` on one pool of the source's ``workers``
  threads (shared by every fan-out of the run), fed by a background thread, so requests keep flowing while dlt's main thread works on
  other resources; a semaphore bounds *in-flight + finished-but-unread* results to
  ``buffer`` (memory stays bounded however many parents, and a fan-out never runs ahead of
  its consumer by more than ``buffer`` answers).
* Results come back in completion order, in batches of whatever is ready (at least one), so
  the consumer (a dlt resource) yields often and dlt's round-robin keeps every resource
  moving.
* The shared rate limiter in the client, not the thread count, sets the request rate; several
  fan-outs may run at once and together saturate it.
* The first exception cancels the rest and is raised in the consumer.

:func:`bounded_map` is the simple foreground variant (kept for small fan-outs and tests).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sized
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_BUFFER = 200  # answers a fan-out may hold ahead of its consumer (~4 s at 50/s)
MAX_BATCH = 500


def bounded_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[tuple[T, R]]:
    """Yield ``(item, fn(item))`` as calls complete; the first exception cancels the rest."""
    workers = max(1, workers)
    if workers == 1:
        for item in items:
            yield item, fn(item)
        return
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="learning360")
    pending: dict[Future[R], T] = {}
    try:
        iterator = iter(items)
        exhausted = False
        while True:
            while not exhausted and len(pending) < 2 * workers:
                try:
                    item = next(iterator)
                except StopIteration:
                    exhausted = True
                    break
                pending[executor.submit(fn, item)] = item
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                item = pending.pop(future)
                yield item, future.result()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


class _Done:
    def __init__(self, submitted: int, error: BaseException | None = None):
        self.submitted = submitted
        self.error = error


class FanOut:
    """One thread pool (``workers`` threads) shared by every fan-out of a source run, so the
    number of requests in flight never exceeds ``workers`` (nor the client's connection pool)
    however many fan-outs run at once. Threads start on first use and end with :meth:`close`
    (or when the object is garbage-collected)."""

    def __init__(self, workers: int, stats: Any = None):
        self.workers = max(1, int(workers))
        # a RequestStats: calls known to be due (a list's length at once, a stream's items as
        # they are read) and calls answered, so progress can show an ETA
        self.stats = stats
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.workers, thread_name_prefix="learning360"
                )
            return self._executor

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def batches(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        buffer: int = DEFAULT_BUFFER,
        max_batch: int = MAX_BATCH,
    ) -> Iterator[list[tuple[T, R]]]:
        """Yield lists of ``(item, fn(item))`` in completion order; each list holds every
        answer ready at that moment (at least one, at most ``max_batch``). ``items`` is
        consumed by a background thread (it may be a streamed listing)."""
        if self.stats is not None:
            fn, items = _counted(self.stats, fn, items)
        return _prefetch(self._pool(), fn, items, max(buffer, 2 * self.workers), max_batch)


def _counted(
    stats: Any, fn: Callable[[T], R], items: Iterable[T]
) -> tuple[Callable[[T], R], Iterable[T]]:
    """``fn`` and ``items`` reporting planned and answered calls to ``stats``."""

    def call(item: T) -> R:
        try:
            return fn(item)
        finally:
            stats.record_call_done()

    if isinstance(items, Sized):
        stats.plan_calls(len(items))
        return call, items

    def planned(stream: Iterable[T]) -> Iterator[T]:
        for item in stream:
            stats.plan_calls(1)
            yield item

    return call, planned(items)


def prefetch_batches(
    fn: Callable[[T], R],
    items: Iterable[T],
    workers: int,
    *,
    buffer: int = DEFAULT_BUFFER,
    max_batch: int = MAX_BATCH,
) -> Iterator[list[tuple[T, R]]]:
    """:meth:`FanOut.batches` on a pool of its own (closed when the iterator ends)."""
    fan_out = FanOut(workers)
    try:
        yield from fan_out.batches(fn, items, buffer=buffer, max_batch=max_batch)
    finally:
        fan_out.close()


def _prefetch(
    executor: ThreadPoolExecutor,
    fn: Callable[[T], R],
    items: Iterable[T],
    buffer: int,
    max_batch: int,
) -> Iterator[list[tuple[T, R]]]:
    results: queue.SimpleQueue[Any] = queue.SimpleQueue()
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
            results.put(_Done(submitted, exc))
            return
        results.put(_Done(submitted))

    feeder = threading.Thread(target=feed, name="learning360-feed", daemon=True)
    feeder.start()
    received = 0
    expected: int | None = None
    try:
        while expected is None or received < expected:
            batch: list[tuple[T, R]] = []
            message = results.get()
            while True:
                if isinstance(message, _Done):
                    if message.error is not None:
                        raise message.error
                    expected = message.submitted
                else:
                    received += 1
                    slots.release()
                    item, value, error = message
                    if error is not None:
                        raise error
                    batch.append((item, value))
                if len(batch) >= max_batch or (expected is not None and received >= expected):
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


def prefetch_map(
    fn: Callable[[T], R], items: Iterable[T], workers: int, *, buffer: int = DEFAULT_BUFFER
) -> Iterator[tuple[T, R]]:
    """:func:`prefetch_batches`, flattened."""
    for batch in prefetch_batches(fn, items, workers, buffer=buffer):
        yield from batch
