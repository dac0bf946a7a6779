"""Starting, watching and stopping the processes of background jobs."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from .environment import PROJECT_ROOT, job_environment
from .kinds import job_kind

_children: dict[int, subprocess.Popen] = {}  # started by this process, reaped on every look
_ended: dict[int, int] = {}  # pid -> exit code of the children reaped so far (negative: a signal)


def spawn(kind: str, args: list[str], log: Path, stdin_pipe: bool = False) -> subprocess.Popen:
    """``python -m <the kind's module> ARGS`` in a fresh interpreter and a session of its own
    (never a fork of a process holding torch threads), so it outlives a closed tab or a
    restarted dashboard; output appended to ``log``. ``stdin_pipe``: the caller writes to it
    (the standby worker reads its run id there)."""
    info = job_kind(kind)
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", info.module, *map(str, args)], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                                start_new_session=True, cwd=PROJECT_ROOT, env=job_environment(info.thread_count()))
    _children[proc.pid] = proc
    return proc


def _reap() -> None:
    for pid, proc in list(_children.items()):
        if proc.poll() is not None:
            _ended[pid] = proc.returncode
            del _children[pid]


def how_it_ended(pid: int | None) -> str:
    """How a job this process started, and found not alive, ended, in words ('' when it is not
    known here: started by another process). SIGKILL is what the kernel's out-of-memory killer
    sends, so it is named."""
    proc = _children.get(pid) if pid else None
    if proc is not None:  # our child, seen dead: it can be a zombie a moment before waitpid reaps it
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return ""
    _reap()
    code = _ended.get(pid) if pid else None
    if code is None:
        return ""
    if code >= 0:
        return f"exit code {code}"
    name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
    return f"killed by {name}" + (" (the out-of-memory killer sends it)" if -code == signal.SIGKILL else "")


def pid_alive(pid: int | None) -> bool:
    """True while ``pid`` is a live (not zombie) TL Studio process."""
    if not pid:
        return False
    _reap()
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()[0]
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, IndexError):
            return False
        # The command line guards against a recycled pid now belonging to something else.
        return state != "Z" and b"tlcore" in cmdline
    try:  # no /proc (macOS): signal 0 checks existence only
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def signal_job(pid: int | None, sig: int = signal.SIGTERM) -> bool:
    """Send ``sig`` to the job's process group (it leads its own session). False when it
    was not running."""
    if not pid_alive(pid):
        return False
    try:
        os.killpg(pid, sig)
    except OSError:
        return False
    return True


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
