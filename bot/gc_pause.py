"""The cyclic garbage collector paused while `mjbot run` starts.

Starting imports some 700 modules and builds the services: about 120,000 objects that live as
long as the process. With the collector on, their allocation triggers collections that walk the
growing heap again and again, a quarter of the start-up's time on the benchmark machine
(docs/benchmarks.md). `pause()` turns it off before the first import; `resume()`, once the bot
has logged in and set itself up, moves every object alive by then into the collector's permanent
generation (`gc.freeze`), so that no later collection walks them either, and turns it back on.
The price: the few cycles that became garbage during start-up (about 1,900 objects) are never
freed.
"""

from __future__ import annotations

import gc

_state = {"paused": False}


def pause() -> None:
    """Stop collecting until `resume()`; nothing happens if the collector is already off."""
    if gc.isenabled():
        gc.disable()
        _state["paused"] = True


def resume() -> None:
    """Freeze what start-up built and collect again; only undoes `pause()`, once."""
    if _state["paused"]:
        _state["paused"] = False
        gc.freeze()
        gc.enable()
