"""Benchmarks: each ``bench_<name>.py`` module has ``main(argv)`` and prints its figures.

Run them all with ``make bench`` (``python -m bench``), or one with
``python -m bench <name> [args...]``. Figures are printed, never asserted.
"""
