"""A built-in simulator of the Midjourney-proxy "plus" API, with new-api and trueai quirks."""

from .backends import Mode
from .drawing import render_png
from .server import (
    DEFAULT_BANNED_WORDS,
    FaultKind,
    Handler,
    RecordedRequest,
    Simulator,
    run_simulator,
)
from .tasks import ManualClock, SimTask

__all__ = [
    "DEFAULT_BANNED_WORDS",
    "FaultKind",
    "Handler",
    "ManualClock",
    "Mode",
    "RecordedRequest",
    "SimTask",
    "Simulator",
    "render_png",
    "run_simulator",
]
