"""Numbers and states said for people."""
from __future__ import annotations

STATUS_ICONS = {"queued": ":grey[● queued]", "running": ":blue[● running]", "stopping": ":orange[● stopping]",
                "stopped": ":grey[■ stopped]", "finished": ":green[✔ finished]", "failed": ":red[✖ failed]"}


def status_badge(status: str) -> str:
    return STATUS_ICONS.get(status, status)


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}%}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def count(n: int | float | None) -> str:
    return "–" if n is None else f"{n:,.0f}"


def gain(after: float | None, before: float | None) -> str | None:
    """The change from ``before`` to ``after`` (both fractions) in percentage points."""
    return None if after is None or before is None else f"{(after - before) * 100:+.1f} points"
