"""What the run store knows of one run, as the layers above it read it: ``RunRecord``.

Run ids are made here too, by ``new_run_id`` only: creation time and 6 random hex digits.
An id from outside (a URL's ?run=, the command line, a standby worker's stdin) must match
that form before it is used at all: it names a folder, and a crafted one ("../../etc")
must not.
"""
from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from .config import RunConfig
from .run_folder import RunFolder

STATUSES = ("queued", "running", "stopping", "stopped", "finished", "failed")
ACTIVE = ("running", "stopping")  # a worker process is at it
LIVE = ("queued", *ACTIVE)  # not ended yet
ENDED = ("stopped", "finished", "failed")

RUN_ID_FORMAT = "YYYYMMDD-HHMMSS-xxxxxx"
_RUN_ID = re.compile(r"[0-9]{8}-[0-9]{6}-[0-9a-f]{6}")  # ASCII classes: \d would match any digit


def new_run_id() -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def is_run_id(value) -> bool:
    """True when ``value`` has the form of a run id (whether or not such a run exists)."""
    return isinstance(value, str) and _RUN_ID.fullmatch(value) is not None


def shown_id(value) -> str:
    """An untrusted id as it may appear in a message: quoted, cut short."""
    text = str(value)
    return repr(text if len(text) <= 40 else text[:40] + "...")


@dataclass(frozen=True)
class RunRecord:
    """One row of the run store. ``config_json`` is the config as submitted (the run's folder
    holds the one it ran with, environment included); ``summary`` is the final summary
    (tlcore.train.summary), None until the run ends."""
    id: str
    name: str
    created: float
    config_json: str
    status: str
    folder: Path
    pid: int | None = None
    host: str | None = None
    started: float | None = None
    ended: float | None = None
    error: str | None = None
    summary: dict[str, Any] | None = None
    resume: bool = False
    stop_requested: bool = False
    group_id: str | None = None  # the seed group's id (its first run's), or None
    replay_of: str | None = None  # the run this one replays, or None
    owner: str = ""  # who started it (tlcore.runs.owners); '' for a run anyone may manage
    host_is_here: bool = True  # False for a run a worker on another machine started

    @cached_property
    def config(self) -> RunConfig:
        return RunConfig.from_json(self.config_json)

    @property
    def files(self) -> RunFolder:
        return RunFolder(self.folder)

    @property
    def seed(self) -> int:
        return int(json.loads(self.config_json)["seed"])

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def live(self) -> bool:
        return self.status in LIVE

    def score(self, key: str = "target.test.accuracy") -> float | None:
        """A number of the summary ('target.test.accuracy', 'before.target.test.macro_f1', ...)."""
        value = (self.summary or {}).get(key)
        return value if isinstance(value, (int, float)) else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the config parsed (``runs show --json``)."""
        d = asdict(self)
        d["config"] = json.loads(d.pop("config_json"))
        d["folder"] = str(self.folder)
        return d
