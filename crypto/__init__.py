"""doorwatch.crypto."""
