"""`python -m doorwatch.cli` runs the `doorwatch` command."""

from doorwatch.cli import main

main()
