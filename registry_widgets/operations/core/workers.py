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

import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Iterable, TypeVar

from ...errors import Cancelled
from ...registry import abort_requests, forget_requests, note_requests

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
        self._workers = max(1, workers)
        self._executor = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix=name)
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
            each: Callable[[int, int], None] | None = None, *,
            width: int | None = None) -> list[R]:
        """``work`` over ``items``, results in item order, on ``width`` workers at most (by
        default, and never more than, the pool's size). ``each(done, total)`` reports
        progress in the calling thread: at least every POLL s and at the end (not once per
        item: a listing's 10,000 items would be 10,000 widget updates). The first failure is
        raised at once; no worker starts another item after it.

        The workers are long-lived: each takes the next item from a shared iterator until
        none is left. A future per item (``executor.submit``) costs a lock, a condition and
        a callback per item, and waking the calling thread per item costs a thread switch:
        on 2 cores shared with the registry, more CPU than a listing's small requests."""
        items = list(items)
        total = len(items)
        if not total:
            return []
        stop, busy = self.stop, self._busy
        results: list[Any] = [None] * total
        pending = iter(enumerate(items))
        lock = threading.Lock()
        state: dict[str, Any] = {"done": 0, "error": None}
        finished = threading.Event()  # every item done, or one failed

        def run() -> None:
            me = threading.get_ident()
            while True:
                with lock:
                    if state["error"] is not None:
                        return
                    try:
                        i, item = next(pending)
                    except StopIteration:
                        return
                try:
                    stop.check()  # an item not yet started when the stop came is not started
                    busy.add(me)
                    note_requests()
                    try:
                        results[i] = work(item)
                    finally:
                        busy.discard(me)
                        forget_requests()
                except BaseException as e:  # noqa: BLE001 - raised in the calling thread
                    with lock:
                        if state["error"] is None:
                            state["error"] = e
                    finished.set()
                    return
                with lock:
                    state["done"] += 1
                    if state["done"] == total:
                        finished.set()

        self._futures.extend(self._executor.submit(run)
                             for _ in range(min(width or self._workers, self._workers, total)))
        reported = 0
        while True:
            stop.check()
            finished.wait(POLL)
            with lock:
                done, error = state["done"], state["error"]
            if error is not None:
                raise error
            if each is not None and done != reported:
                each(done, total)
                reported = done
            if done == total:
                return results
