"""doorwatch.segments: ID normalisation, partial-identity segments, matching.

Pure: no I/O, no clock reads, no global randomness (time and randomness are
parameters).
"""

from doorwatch.segments._identity import DocumentType, Identity

__all__ = ["DocumentType", "Identity"]
