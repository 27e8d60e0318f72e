"""Log output never carries a traceback's local variables (they may hold personal data)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROGRAM = """
import structlog
from doorwatch.cli._logging import configure_logging

configure_logging({fmt!r})
log = structlog.get_logger("test")

def handle(document):
    surname = document["surname"]
    raise ValueError("boom")

try:
    handle({{"surname": "Zebedee-Canary", "date_of_birth": "1990-04-01"}})
except ValueError:
    log.exception("api.internal_error", method="scan.submit")
"""


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_exception_logs_do_not_show_local_variables(fmt: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(fmt=fmt)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "api.internal_error" in done.stderr
    assert "ValueError" in done.stderr  # the traceback itself is kept
    assert "Zebedee-Canary" not in done.stderr
    assert "1990-04-01" not in done.stderr
