"""The ``doorwatch`` command line.

A thin client of a running node's socket, plus offline commands for set-up and
for the segments engine. ``main`` is the console-script entry point.
"""

from doorwatch.cli._app import app, main

__all__ = ["app", "main"]
