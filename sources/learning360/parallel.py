"""Bounded fan-out for per-user / per-group / per-session requests.

A plain ``ThreadPoolExecutor`` sized by the source's ``workers`` rather than dlt's
``parallelized=True``: dlt's pool is sized by the pipeline-wide ``extract.workers`` (5 by
default) and schedules one deferred call per item through the pipe iterator, while here the
source's own ``workers`` bounds concurrency exactly, at most ``2 * workers`` calls are in
flight (memory stays bounded however many parents), and results come back in completion
order so one slow answer does not hold up the others. The shared rate limiter, not the
thread count, sets the request rate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


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
