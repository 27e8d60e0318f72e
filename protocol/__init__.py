"""doorwatch.protocol."""
