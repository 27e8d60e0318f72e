"""doorwatch.node."""
