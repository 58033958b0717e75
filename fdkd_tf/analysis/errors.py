"""`AnalysisError`: bad analysis input (missing checkpoint, mismatched models)."""

from __future__ import annotations


class AnalysisError(ValueError):
    """An analysis cannot run on the given models or run directories; the message says why and what to do."""
