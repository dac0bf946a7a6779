"""Who a run belongs to, who may manage it, and whose queued run starts next.

Every run records its owner when it is created: the user a reverse proxy authenticated
(taken from the header it sets, and only when the server is told a proxy is in front),
else a name typed in the browser (a convenience, not security), else '' (nobody in
particular). Only the owner, or a teacher, may stop, resume or delete a run; '' runs (and
every run an older TL Studio recorded) stay open to anyone, as all runs were before.

The queue is fair across owners: the owner whose last run started longest ago goes
first, and one owner's runs start in the order they were queued. One student's ten seeds
then no longer hold back everyone else's single run.
"""
from __future__ import annotations

import getpass
import hmac
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..run_record import RunRecord
from .errors import RunStoreError

USER_HEADER_ENV = "TLSTUDIO_USER_HEADER"  # the header a trusted proxy sets; setting it says one is in front
TRUST_PROXY_ENV = "TLSTUDIO_TRUST_PROXY"  # 1: trust X-Forwarded-User without naming it
DEFAULT_USER_HEADER = "X-Forwarded-User"
TEACHER_PASSWORD_ENV = "TLSTUDIO_TEACHER_PASSWORD"
MAX_NAME = 64


class NotOwnerError(RunStoreError):
    """Someone other than a run's owner (and not a teacher) tried to stop, resume or delete it."""


@dataclass(frozen=True)
class Actor:
    """Who is acting. ``verified``: the name came from an authenticating proxy; ``teacher``:
    this session unlocked the teacher password (may manage every run)."""
    name: str = ""
    verified: bool = False
    teacher: bool = False


def clean_name(text: str | None) -> str:
    """A typed or forwarded name as it is stored and shown: printable, trimmed, cut short, and
    without backticks (pages show a name as `code`, so it can never become markdown)."""
    name = "".join(ch for ch in str(text or "") if ch.isprintable() and ch != "`").strip()
    return name[:MAX_NAME]


def trusted_user_header(env: Mapping[str, str] = os.environ) -> str | None:
    """The header to take the user from, or None when no proxy is declared in front. Without
    one, any browser could send the header and claim to be anyone, so it is ignored."""
    named = env.get(USER_HEADER_ENV, "").strip()
    if named:
        return named
    return DEFAULT_USER_HEADER if env.get(TRUST_PROXY_ENV, "").strip() == "1" else None


def proxy_user(headers: Mapping[str, str], env: Mapping[str, str] = os.environ) -> str | None:
    """The proxy-authenticated user from a request's ``headers`` (case-insensitive names);
    None when no proxy is trusted or it sent no name."""
    header = trusted_user_header(env)
    if header is None:
        return None
    wanted = header.lower()
    value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return clean_name(value) or None


def teacher_password(env: Mapping[str, str] = os.environ) -> str | None:
    return env.get(TEACHER_PASSWORD_ENV) or None


def is_teacher_password(typed: str, expected: str | None) -> bool:
    """Constant-time: the time taken says nothing about how much of it was right."""
    return bool(expected) and hmac.compare_digest(typed.encode(), expected.encode())


def os_user() -> str:
    """Who the command line acts as: the operating system's user."""
    try:
        return clean_name(getpass.getuser())
    except (KeyError, OSError):  # no name for this uid (a container)
        return ""


def can_manage(run: RunRecord, actor: Actor) -> bool:
    """May ``actor`` stop, resume or delete ``run``? Its owner, a teacher, or anyone for a run
    without an owner."""
    return actor.teacher or not run.owner or run.owner == actor.name


def owner_label(owner: str) -> str:
    return owner or "anyone (unowned)"


def check_can_manage(run: RunRecord, actor: Actor | None, action: str) -> None:
    """NotOwnerError unless ``actor`` may ``action`` ``run``; None: a trusted caller (the CLI
    on the server, a test) that may do anything."""
    if actor is not None and not can_manage(run, actor):
        raise NotOwnerError(f"run {run.id} belongs to {run.owner}: only they or a teacher can {action} it")


def owned_by(runs: Iterable[RunRecord], name: str) -> list[RunRecord]:
    """The runs ``name`` started ("my runs"); with no name, every run (nobody to filter by)."""
    runs = list(runs)
    return [r for r in runs if r.owner == name] if name else runs


def last_started(runs: Iterable[RunRecord]) -> dict[str, float]:
    """When each owner's most recent run started (runs never started do not count)."""
    latest: dict[str, float] = {}
    for run in runs:
        if run.started is not None:
            latest[run.owner] = max(run.started, latest.get(run.owner, run.started))
    return latest


def fair_order(queued: Iterable[RunRecord], started: Mapping[str, float]) -> list[RunRecord]:
    """The order queued runs should start in: round-robin across owners. The owner whose last
    run started longest ago (or never) goes first; each start moves its owner to the back;
    one owner's runs keep their queue order (oldest first). Ties between owners that never
    started a run go to the one who queued first."""
    queues: dict[str, list[RunRecord]] = {}
    for run in sorted(queued, key=lambda r: r.created):
        queues.setdefault(run.owner, []).append(run)
    # (when its last run started, when its oldest queued run was queued): smallest goes next.
    turn = {owner: (started.get(owner, float("-inf")), runs[0].created) for owner, runs in queues.items()}
    order, tick = [], 0
    while queues:
        owner = min(queues, key=turn.__getitem__)
        order.append(queues[owner].pop(0))
        tick += 1
        turn[owner] = (float("inf"), tick)  # to the back, behind every owner already waiting
        if not queues[owner]:
            del queues[owner]
    return order
