"""Describing an unexpected failure for the log without personal data.

An exception's message may quote the value at fault (a name, a reason, an
address), so a background loop that survives a failure logs only the
exception's type and the place it was raised, with the ids it was working on.
"""

from __future__ import annotations

import traceback
from pathlib import Path


def failure_fields(exc: BaseException) -> dict[str, object]:
    """``{"error": type name, "where": "file.py:line"}`` of the innermost frame."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else None
    return {"error": type(exc).__name__, "where": where}


def failure_trace(exc: BaseException) -> dict[str, object]:
    """``failure_fields`` plus the frames the failure went through ("file.py:line function"),
    for a log line that says where without saying what (no message, no local variables)."""
    frames = traceback.extract_tb(exc.__traceback__)
    stack = [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in frames]
    return {**failure_fields(exc), "stack": stack}
