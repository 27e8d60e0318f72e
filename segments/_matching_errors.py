"""Typed errors of the matching engine (factors, segments, index, tables).

Messages name the field and the rule, never a personal value.
"""

from __future__ import annotations


class MatchingError(ValueError):
    """Base class of every error raised by the segments matching engine."""


class MalformedSegmentsError(MatchingError):
    """A segment set received from the wire breaks a rule of its format."""


class BudgetError(MatchingError):
    """A privacy budget or a selection parameter is out of range."""


class FrequencyTableError(MatchingError):
    """A frequency table (shipped or refined) is malformed or a refinement is invalid."""


class DuplicateSegmentSetError(MatchingError):
    """A segment set id was added to the index twice."""


class UnknownSegmentSetError(MatchingError):
    """A segment set id is not in the index."""
