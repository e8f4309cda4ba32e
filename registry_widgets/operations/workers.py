"""Worker pools that stop when asked: a ``cancel`` event, or Ctrl-C / a kernel interrupt.

Layer 3, used by ``copy`` and the listing (``inventory``): imports ``errors`` and
``transport`` (to cut the connection of a worker blocked in a socket call).

A plain ``ThreadPoolExecutor`` cannot be interrupted: KeyboardInterrupt reaches only the
calling thread, and leaving the ``with`` block then waits for every worker to finish its
upload (18 s for 400 MiB at 20 MB/s), in Jupyter after the interrupt was "handled". Here
the calling thread waits in short slices (so an interrupt or a set ``cancel`` event is seen
at once), and the workers check a shared :class:`Stop` between requests and between the
pieces of a blob; a worker blocked in a socket call (the kernel still sending a buffered
body, or a registry taking its time to answer an upload) has its connection cut. So each
stops within about a second of being told.
"""

from __future__ import annotations

import collections
import itertools
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Iterable, TypeVar

from ..errors import Cancelled
from ..transport import abort_requests, forget_requests, note_requests

T = TypeVar("T")
R = TypeVar("R")

POLL = 0.1  # how often the calling thread looks at the cancel event while it waits
GRACE = 2.0  # how long a stopped pool waits for its workers before returning anyway


class Stop:
    """Whether workers should stop: the caller's ``cancel`` event, or an interrupt seen by
    the calling thread. ``check()`` raises :class:`Cancelled` once either is set."""

    def __init__(self, cancel: threading.Event | None = None, what: str = "the operation"):
        if cancel is not None and not callable(getattr(cancel, "is_set", None)):
            raise TypeError(f"cancel must be a threading.Event (or None), not "
                            f"{type(cancel).__name__}")
        self.cancel = cancel
        self.what = what
        self._stopped = threading.Event()

    def set(self) -> None:
        self._stopped.set()

    def is_set(self) -> bool:
        return self._stopped.is_set() or (self.cancel is not None and self.cancel.is_set())

    def check(self) -> None:
        if self.is_set():
            raise Cancelled(f"{self.what} was cancelled")


class Pool:
    """A thread pool whose ``map`` returns results in item order and stops on request.

    Leaving the ``with`` block on an exception (KeyboardInterrupt included) tells every
    worker to stop, drops the items not started, and waits at most ``GRACE`` s for the
    running ones, so the caller's exception surfaces promptly and no worker goes on
    sending after it.
    """

    def __init__(self, workers: int, name: str, stop: Stop):
        self.stop = stop
        self._executor = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=name)
        self._futures: list[Future[Any]] = []
        self._busy: set[int] = set()  # idents of the worker threads running an item

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is None:
            self._executor.shutdown(wait=True)
            return
        self.stop.set()
        self._executor.shutdown(wait=False, cancel_futures=True)
        abort_requests(list(self._busy))
        running = [f for f in self._futures if not f.done()]
        if running:
            wait(running, timeout=GRACE)

    def map(self, work: Callable[[T], R], items: Iterable[T],
            each: Callable[[int, int], None] | None = None) -> list[R]:
        """``work`` over ``items``; ``each(done, total)`` after every finished item (in the
        calling thread). The first failure is raised once the others are dropped."""
        items = list(items)
        stop, busy = self.stop, self._busy

        def guarded(item: T) -> R:
            stop.check()  # an item not yet started when the stop came is not started
            me = threading.get_ident()
            busy.add(me)
            note_requests()
            try:
                return work(item)
            finally:
                busy.discard(me)
                forget_requests()

        # Finished items are collected by each future's done callback, without waking this
        # thread: it looks every POLL s (or at once when the last item or a failure comes).
        # Waking it per item cost more CPU than the item's request on a 2-core machine, and
        # ``concurrent.futures.wait(pending, FIRST_COMPLETED)`` is worse: it locks and
        # watches every pending future on each wake-up, O(n) per item.
        total = len(items)
        finished: collections.deque[Future[Any]] = collections.deque()
        wake = threading.Event()
        counted = itertools.count(1)

        def collect(future: Future[Any]) -> None:
            finished.append(future)
            if next(counted) == total or future.cancelled() or future.exception() is not None:
                wake.set()

        futures: dict[Future[Any], int] = {}
        for i, item in enumerate(items):
            future = self._executor.submit(guarded, item)
            futures[future] = i
            future.add_done_callback(collect)
        self._futures.extend(futures)
        results: list[Any] = [None] * total
        done_count = 0
        while done_count < total:
            stop.check()
            while finished:
                future = finished.popleft()
                results[futures[future]] = future.result()  # raises the worker's error
                done_count += 1
                if each is not None:
                    each(done_count, total)
            if done_count < total:
                wake.wait(POLL)
                wake.clear()  # whatever set it was appended first: the next drain sees it
        return results
