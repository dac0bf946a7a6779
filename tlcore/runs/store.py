"""The run store: one SQLite database (WAL mode) under the runs folder, plus a folder per run.

Every process opens its own connection; WAL lets the dashboard read while a worker writes,
and the busy timeout turns brief lock contention into a wait instead of an error.
"""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from ..run_record import RUN_ID_FORMAT, STATUSES, RunRecord, is_run_id, new_run_id, shown_id
from .errors import RunStoreError
from .limits import check_disk_space
from .owners import Actor, check_can_manage

SCHEMA_VERSION = 3
NEW_GROUP = "new"  # create_run(group=NEW_GROUP): the run starts a seed group named after itself

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, name TEXT, created REAL NOT NULL, config TEXT NOT NULL,
    status TEXT NOT NULL, pid INTEGER, host TEXT, started REAL, ended REAL, error TEXT,
    summary TEXT, folder TEXT NOT NULL, resume INTEGER NOT NULL DEFAULT 0,
    stop_requested INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS metrics (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run TEXT NOT NULL, step INTEGER NOT NULL,
    epoch INTEGER NOT NULL, split TEXT NOT NULL, name TEXT NOT NULL, value REAL, time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_run_step ON metrics (run, step);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status, created);
"""
# What brings a store from the version before up to each version. Columns are only added
# (NULL for the rows already there), so every run an older TL Studio recorded stays readable.
_MIGRATIONS = {
    # A seed group (n runs of one config, seeds s, s+1, ...) shares group_id: its first run's
    # id. replay_of: the run whose config.json a replay was started from.
    2: ("ALTER TABLE runs ADD COLUMN group_id TEXT", "ALTER TABLE runs ADD COLUMN replay_of TEXT",
        "CREATE INDEX IF NOT EXISTS runs_group ON runs (group_id)"),
    # owner: who started the run (tlcore.runs.owners); '' for the runs recorded before, which
    # stay manageable by anyone, as every run was then.
    3: ("ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT ''",),
}


def runs_dir(override: str | Path | None = None) -> Path:
    """--runs-dir, else $TLSTUDIO_RUNS_DIR, else ./runs."""
    return Path(override or os.environ.get("TLSTUDIO_RUNS_DIR") or "runs").resolve()


class RunStore:
    def __init__(self, root: str | Path | None = None):
        self.root = runs_dir(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-test-{os.getpid()}-{threading.get_ident()}"  # threads open stores too
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise RunStoreError(f"the runs folder {str(self.root)!r} is not writable ({exc.strerror or exc}); "
                                "choose another with --runs-dir or TLSTUDIO_RUNS_DIR") from None
        self.db_path = self.root / "runs.db"
        self._local = threading.local()
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise RunStoreError(f"{self.db_path} is not a usable run database ({exc})") from None
        if version > SCHEMA_VERSION:
            raise RunStoreError(f"{self.db_path} was written by a newer TL Studio (schema {version})")
        if version < SCHEMA_VERSION:
            self._migrate(version)

    def _migrate(self, version: int) -> None:
        """0 (a new file) creates the first tables, then each migration runs in order, all
        under the write lock: two processes opening an old store at once migrate it once."""
        if version == 0:
            self._db.executescript(_SCHEMA)  # IF NOT EXISTS: harmless when another process won the race
        with self._tx() as db:
            version = max(1, db.execute("PRAGMA user_version").fetchone()[0])  # re-read under the lock
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[step]:
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # ---- connection: one per thread, WAL, busy timeout
    @property
    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self):
        """One write transaction; IMMEDIATE takes the write lock up front (no upgrade deadlock)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # ---- runs
    def create_run(self, config, name: str = "", folder: str | Path | None = None, group: str | None = None,
                   replay_of: str | None = None, owner: str = "") -> str:
        """A queued run. ``group``: the seed group's id (its first run's id; NEW_GROUP for the
        first run itself); ``replay_of``: the run this one replays; ``owner``: who started it
        ('' for nobody in particular: anyone may manage it)."""
        run_id = new_run_id()
        folder = Path(folder).resolve() if folder else self.root / run_id
        check_disk_space(folder)  # before anything is recorded: a refused run leaves no trace
        folder.mkdir(parents=True, exist_ok=True)
        with self._tx() as db:
            db.execute("INSERT INTO runs (id, name, created, config, status, folder, group_id, replay_of, owner) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (run_id, name or config.name or config.strategy.name, time.time(), config.to_json(),
                        "queued", str(folder), run_id if group == NEW_GROUP else group, replay_of, owner))
        return run_id

    def get(self, run_id: str) -> RunRecord:
        """The run's row; KeyError when there is none, or when ``run_id`` is not even an id.
        Every path of a run comes from its row (``folder``), never from the id given."""
        if not is_run_id(run_id):
            raise KeyError(f"no run {shown_id(run_id)}: not a run id (run ids look like {RUN_ID_FORMAT})")
        row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"no run {run_id!r} in {self.db_path}")
        return _record(row)

    def list_runs(self, status: str | None = None) -> list[RunRecord]:
        sql, args = "SELECT * FROM runs", ()
        if status:
            sql, args = sql + " WHERE status = ?", (status,)
        return [_record(r) for r in self._db.execute(sql + " ORDER BY created", args)]

    def group_runs(self, group_id: str) -> list[RunRecord]:
        """The runs of a seed group, oldest (lowest seed) first; [] for no such group."""
        return [_record(r) for r in self._db.execute("SELECT * FROM runs WHERE group_id = ? ORDER BY created",
                                                       (group_id,))]

    def update(self, run_id: str, **fields) -> None:
        if "summary" in fields and not isinstance(fields["summary"], (str, type(None))):
            fields["summary"] = json.dumps(fields["summary"])
        if "status" in fields and fields["status"] not in STATUSES:
            raise ValueError(f"unknown status {fields['status']!r}")
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self._tx() as db:
            db.execute(f"UPDATE runs SET {cols} WHERE id = ?", (*fields.values(), run_id))

    def claim(self, run_id: str, expected: tuple[str, ...], **fields) -> bool:
        """Set fields only if the run's status is one of ``expected`` (atomic check-and-set)."""
        cols = ", ".join(f"{k} = ?" for k in fields)
        marks = ", ".join("?" for _ in expected)
        with self._tx() as db:
            cur = db.execute(f"UPDATE runs SET {cols} WHERE id = ? AND status IN ({marks})",
                             (*fields.values(), run_id, *expected))
            return cur.rowcount == 1

    def request_stop(self, run_id: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET stop_requested = 1, status = CASE status WHEN 'running' THEN 'stopping' "
                       "WHEN 'queued' THEN 'stopped' ELSE status END WHERE id = ?", (run_id,))

    def stop_requested(self, run_id: str) -> bool:
        row = self._db.execute("SELECT stop_requested FROM runs WHERE id = ?", (run_id,)).fetchone()
        return bool(row and row[0])

    def delete(self, run_id: str, actor: Actor | None = None) -> None:
        """NotOwnerError when ``actor`` may not manage the run (None: the caller may)."""
        import shutil
        run = self.get(run_id)
        check_can_manage(run, actor, "delete")
        if run.active:
            raise RunStoreError(f"run {run_id} is {run.status}; stop it before deleting it")
        with self._tx() as db:
            db.execute("DELETE FROM metrics WHERE run = ?", (run_id,))
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        folder = run.folder
        if folder.is_dir() and self.root in folder.parents:  # never delete outside the runs folder
            shutil.rmtree(folder, ignore_errors=True)

    # ---- metrics
    def add_metrics(self, run_id: str, rows: list[tuple]) -> None:
        """rows: (step, epoch, split, name, value, time)."""
        if rows:
            with self._tx() as db:
                db.executemany("INSERT INTO metrics (run, step, epoch, split, name, value, time) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?)", [(run_id, *r) for r in rows])

    def metrics(self, run_id: str, since_step: int = -1, split: str | None = None, after_id: int = 0) -> list[dict]:
        """Rows of a run in the order written; ``after_id`` skips rows already read (a resumed
        run writes steps again, so the row id, not the step, says what is new)."""
        sql = "SELECT id, step, epoch, split, name, value, time FROM metrics WHERE run = ? AND step > ? AND id > ?"
        args: tuple = (run_id, since_step, after_id)
        if split:
            sql, args = sql + " AND split = ?", args + (split,)
        return [dict(r) for r in self._db.execute(sql + " ORDER BY id", args)]

    def integrity_ok(self) -> bool:
        return self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _record(row: sqlite3.Row) -> RunRecord:
    d = dict(row)
    return RunRecord(id=d["id"], name=d["name"] or "", created=d["created"], config_json=d["config"],
                     status=d["status"], folder=Path(d["folder"]), pid=d["pid"], host=d["host"], started=d["started"],
                     ended=d["ended"], error=d["error"], summary=json.loads(d["summary"]) if d["summary"] else None,
                     resume=bool(d["resume"]), stop_requested=bool(d["stop_requested"]), group_id=d.get("group_id"),
                     replay_of=d.get("replay_of"), owner=d.get("owner") or "",
                     host_is_here=d["host"] in (None, socket.gethostname()))
