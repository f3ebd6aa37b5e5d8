"""Python's cyclic garbage collector around a load: paused while building, then kept off the result.

A load allocates hundreds of thousands of objects (manifest, specs, asset graphs) that live
as long as the code location. CPython starts a full collection whenever the surviving heap
has grown by a quarter, and each one scans every live object: during a load that was a
pass every few hundred milliseconds finding nothing (a third of the load's CPU time at
5,000 models), and afterwards every full pass in the code server (building the repository
snapshot, sensor ticks) scanned the whole definitions again.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic collection inside the block; the collector as it was after it.

    Reference counting still frees whatever the block drops; cycles wait for the next pass.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def exempt_while_alive(anchor: object) -> None:
    """Leave every object alive now out of the collector's passes until `anchor` is gone.

    `gc.freeze()`: frozen objects are still freed by reference counting; only garbage
    cycles among them (a few hundred objects per load) wait until `anchor`, the loaded
    repository, is dropped, when `gc.unfreeze()` hands them back to the collector. A code
    server keeps its repository for its whole life.
    """
    gc.freeze()
    weakref.finalize(anchor, gc.unfreeze)
