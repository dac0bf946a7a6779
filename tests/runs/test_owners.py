"""Run owners: the store records them (and migrates older stores), only the owner or a
teacher manages a run, the proxy's header is trusted only when declared, and the queue is
round-robin across owners."""
import argparse
import dataclasses
import getpass
import time

import pytest

from tlcore.config import DataConfig, ModelConfig, RunConfig
from tlcore.run_record import RunRecord
from tlcore.runs import RunStore, scheduler
from tlcore.jobs.environment import job_environment
from tlcore.runs.owners import (TEACHER_PASSWORD_ENV, Actor, NotOwnerError, can_manage, fair_order,
                                is_teacher_password, last_started, os_user, owned_by, proxy_user)
from tlcore.runs.read import list_overviews
from tlcore.runs.store import SCHEMA_VERSION



def tiny() -> RunConfig:
    return RunConfig(data=DataConfig(target="syndigits", per_class=12, image_size=28),
                     model=ModelConfig(backbone="dann_digits_cnn", weights="none", freeze="none"))


def queued(owner: str, created: float, run_id: str) -> RunRecord:
    return RunRecord(id=run_id, name=run_id, created=created, config_json="{}", status="queued", folder=None,
                     owner=owner)


def test_fair_order_takes_turns_across_owners_and_keeps_each_owners_queue_order():
    # ann queued three seeds first, then bob and cy one run each; ann's last run started
    # a minute ago, bob's an hour ago, cy never started one.
    runs = [queued("ann", 1, "a1"), queued("ann", 2, "a2"), queued("ann", 3, "a3"), queued("bob", 4, "b1"),
            queued("cy", 5, "c1"), queued("bob", 6, "b2")]
    order = fair_order(runs, {"ann": 1000.0, "bob": 100.0})
    assert [r.id for r in order] == ["c1", "b1", "a1", "b2", "a2", "a3"]
    # Nobody started anything yet: whoever queued first goes first, then turns.
    assert [r.id for r in fair_order(runs, {})] == ["a1", "b1", "c1", "a2", "b2", "a3"]
    # One owner alone (or '' for everyone, as before owners): plain first come, first served.
    assert [r.id for r in fair_order(list(reversed(runs[:3])), {})] == ["a1", "a2", "a3"]
    assert fair_order([], {"ann": 1.0}) == []


def test_last_started_is_each_owners_newest_start():
    starts = (("1", "ann", 10.0), ("2", "ann", 30.0), ("3", "bob", 20.0), ("4", "cy", None))
    runs = [dataclasses.replace(queued(o, 1, i), started=s, status="finished") for i, o, s in starts]
    assert last_started(runs) == {"ann": 30.0, "bob": 20.0}


def test_the_store_records_each_runs_owner(tmp_path):
    """(An older store migrating to owners: test_seeds' store from before seed groups.)"""
    store = RunStore(tmp_path / "runs")
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    nobody = store.get(store.create_run(tiny()))
    mine = store.get(store.create_run(tiny(), owner="ann"))
    assert nobody.owner == "" and can_manage(nobody, Actor("bob"))
    assert mine.owner == "ann" and RunStore(store.root).get(mine.id).owner == "ann"  # read back by a new opener
    assert [r["owner"] for r in list_overviews(store)] == ["", "ann"]
    assert [r.id for r in owned_by(store.list_runs(), "ann")] == [mine.id]
    assert len(owned_by(store.list_runs(), "")) == 2  # no name: nobody to filter by


def test_only_the_owner_or_a_teacher_stops_resumes_or_deletes(tmp_path, monkeypatch):
    monkeypatch.setenv("TLSTUDIO_STANDBY", "0")
    monkeypatch.setattr(scheduler, "schedule", lambda store: [])  # no worker: these runs only queue
    store = RunStore(tmp_path / "runs")
    run_id = store.create_run(tiny(), owner="ann")
    with pytest.raises(NotOwnerError, match="belongs to ann: only they or a teacher can stop it"):
        scheduler.stop(store, run_id, wait=False, actor=Actor("bob"))
    assert store.get(run_id).status == "queued" and not store.stop_requested(run_id)
    assert scheduler.stop(store, run_id, wait=False, actor=Actor("ann")) == "stopped"  # a queued run stops at once
    with pytest.raises(NotOwnerError, match="can resume it"):
        scheduler.resume(store, run_id, actor=Actor("bob", verified=True))
    assert scheduler.resume(store, run_id, actor=Actor("bob", teacher=True)) == "queued"
    assert store.get(run_id).owner == "ann"  # the teacher resumed it; it is still ann's
    scheduler.stop(store, run_id, wait=False)  # no actor: the command line on the server may
    with pytest.raises(NotOwnerError, match="can delete it"):
        store.delete(run_id, actor=Actor(""))
    store.delete(run_id, actor=Actor("ann"))
    assert store.list_runs() == []


def test_schedule_starts_the_next_run_of_the_owner_waiting_longest(tmp_path, monkeypatch):
    """The wiring: schedule() picks by fair_order from the store's own start times. Only the
    worker process is left out (recorded instead of spawned; test_runs starts real ones)."""
    monkeypatch.setenv("TLSTUDIO_MAX_JOBS", "1")
    started = []
    monkeypatch.setattr(scheduler, "_start_worker", lambda store, run_id: started.append(run_id))
    store = RunStore(tmp_path / "runs")
    ann = [store.create_run(tiny(), f"ann {k}", owner="ann") for k in range(3)]
    bob = store.create_run(tiny(), "bob", owner="bob")
    for _ in range(4):
        assert len(scheduler.schedule(store)) == 1
        assert scheduler.schedule(store) == []  # the cap: one at a time
        store.update(started[-1], status="finished", ended=time.time())
        time.sleep(0.01)  # distinct start times
    assert started == [ann[0], bob, ann[1], ann[2]]  # first come, first served would run bob last


def test_the_proxy_header_is_trusted_only_when_the_server_says_a_proxy_is_in_front():
    headers = {"x-forwarded-user": " ann\n", "Host": "tlstudio"}
    assert proxy_user(headers, env={}) is None  # any browser could send it
    assert proxy_user(headers, env={"TLSTUDIO_TRUST_PROXY": "1"}) == "ann"
    assert proxy_user({"Remote-User": "bob`s"}, env={"TLSTUDIO_USER_HEADER": "remote-user"}) == "bobs"
    assert proxy_user({"Host": "x"}, env={"TLSTUDIO_TRUST_PROXY": "1"}) is None  # the proxy sent no name
    assert proxy_user({"X-Forwarded-User": "x" * 500}, env={"TLSTUDIO_TRUST_PROXY": "1"}) == "x" * 64


def test_teacher_password_check_and_it_stays_out_of_job_processes():
    assert is_teacher_password("s3cret", "s3cret")
    assert not is_teacher_password("s3cre", "s3cret")
    assert not is_teacher_password("", None) and not is_teacher_password("anything", None)
    assert TEACHER_PASSWORD_ENV not in job_environment(1, {TEACHER_PASSWORD_ENV: "s3cret", "HOME": "/root"})


def test_the_command_line_records_the_login_name_or_owner():
    from tlcore.cli import train as train_cli
    parser = argparse.ArgumentParser()
    train_cli.add_parser(parser.add_subparsers())
    assert train_cli.run_owner(parser.parse_args(["train", "--owner", " ann\n"])) == "ann"
    assert train_cli.run_owner(parser.parse_args(["train"])) == os_user() == getpass.getuser()
