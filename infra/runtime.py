"""Interpreter settings of SceneLedger's long-running processes (API, worker, replay, bench)."""

from __future__ import annotations

import gc

GC_THRESHOLDS = (50_000, 20, 20)
"""Python's default (700, 10, 10) runs a young-generation collection every 700 container
allocations. Decoding and applying batches of thousands of events allocates millions of
containers that live until their batch is done and that reference counting frees anyway (they
form no cycles), so those collections found nothing and the older ones rescanned the heap:
``replay --all`` on a log of 203,200 events took 31.8-35.7 s of CPU with the default and
22.4-23.8 s with these thresholds, at the same peak memory (175 MB)."""


def tune_gc() -> None:
    """Set the collector up for a long-running process: call once, at process start, after the imports.

    It collects cyclic garbage less often (see ``GC_THRESHOLDS``) and exempts what the imports
    built from every later collection (``freeze_startup``).
    """
    gc.set_threshold(*GC_THRESHOLDS)
    freeze_startup()


def freeze_startup() -> None:
    """Exempt every object alive now from the collector's passes: call when a start-up step is done.

    Modules, classes, pydantic's validators and SQLAlchemy's tables live as long as the process,
    yet every full collection traverses them all: 76-88 ms a collection in a process that has
    imported the command line, the API and the benchmarks (156,000 objects, most of them from
    the imports), against under 0.1 ms once they are frozen (``gc.freeze()``: they move to a
    generation no collection visits). ``sceneledger up`` freezes 181,000 objects this way, at
    the same peak memory. Reference counting still frees frozen objects; what can no longer be
    reclaimed is a cycle among them that is dropped later, and start-up leaves next to none (a
    collection right after the imports found 20 unreachable objects). Objects created after
    the call are collected as usual; calling it again freezes those too.
    """
    gc.freeze()
