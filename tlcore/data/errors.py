"""The one error type that data ingestion raises for bad user data."""
from __future__ import annotations


class IngestError(ValueError):
    """User data that cannot be used, with a message meant for the user.

    ``report`` (an :class:`~tlcore.data.report.IngestReport`, when one was built) lets
    the UI and CLI still show which files were skipped and why, even though the set as
    a whole was refused.
    """

    def __init__(self, message: str, report=None):
        super().__init__(message)
        self.report = report
