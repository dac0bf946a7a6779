"""The run store's errors, apart so that store.py and limits.py can both raise them."""
from __future__ import annotations


class RunStoreError(RuntimeError):
    """The runs folder or database cannot be used; the message says what to do."""


class RunLimitError(RunStoreError):
    """A run refused because a limit would be crossed (free disk space); the message names
    the figure and the setting that changes it. A RunStoreError, so callers that already
    show those (the CLI, the dashboard) show this one too."""
