"""A class trains at once: the training process's fair turns, the budget's meaning, one job's failure kept to
itself, the per-caller limit, the teacher's key and the class grid's small updates. Fast: stand-in jobs, and
a service with no place to run (max_running=0), so nothing trains."""
import base64
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model.nets.limits import ExplorerError
from model.serving.training import TrainingService
from model.serving.training.local import LocalBackend, TrainingProcess
from model.serving.training.service import thin_map, tile_of
from model.serving.training.settings import NAME_LIMIT, clean_name
from model.training import worker
from model.training.checkpoints import TrainingError
from model.training.control import LIVE_NAME, Control, read_json

TINY = {"dataset": "digits", "latent_dim": 2, "beta": 1.0, "size": "small", "seconds": 5}


class StandIn:
    """What the pool asks of a job, recording its turns; `fail` makes its next turn raise."""

    def __init__(self, name: str, log: list, run_dir: Path | None = None, budget: float = 100.0) -> None:
        self.name, self.log, self.dir = name, log, run_dir or Path("/nonexistent")
        self.state, self.control, self.own_s, self.budget, self.fail = "running", Control(), 0.0, budget, None

    def start(self):
        pass

    def obey(self):
        pass

    def left(self):
        return self.budget - self.own_s

    def turn(self, seconds):
        if self.fail:
            raise self.fail
        self.log.append(self.name)
        self.own_s += 1.0                       # each turn: one second of its own training, whatever the clock
        return True

    def first_point(self):
        self.log.append(f"{self.name} first")

    def due(self, now, view_every=1.0):
        return 0.0

    def end(self, state, message):
        self.log.append(f"{self.name} {state}")


def test_every_running_job_gets_one_turn_per_round_in_order_and_a_paused_one_none():
    log: list = []
    pool = worker.Pool()
    pool.jobs = [StandIn(n, log) for n in "abc"]
    pool.jobs[1].state = "paused"
    for _ in range(3):
        pool.round()
    assert log == ["a", "c"] * 3                # nobody starves, nobody gets two turns in a round


def test_a_new_job_shows_its_first_step_at_once_and_has_the_next_turn(monkeypatch, tmp_path):
    log: list = []
    monkeypatch.setattr(worker, "LiveJob", lambda run_dir, data: StandIn("new", log, run_dir))
    pool = worker.Pool()
    pool.jobs = [StandIn(n, log) for n in "ab"]
    pool.round()
    pool.add(tmp_path)
    assert log == ["a", "b", "new first"] and pool.jobs[0].name == "new"   # before anyone's next turn
    pool.round()
    assert log[3:] == ["new", "a", "b"]


def test_a_real_jobs_first_point_is_one_step_and_its_view(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "job.json").write_text(json.dumps({"settings": TINY | {"lr": 2e-3}}))
    pool = worker.Pool()
    pool.add(run)
    live = read_json(run / LIVE_NAME)
    assert live["state"] == "running" and live["step"] == 1 and len(live["history"]) == 1
    assert "map" not in live and pool.jobs[0].own_s > 0       # the chart's first point, counted in its budget
    pool.round()                                              # its first turn brings the pictures
    live = read_json(run / LIVE_NAME)
    assert live["step"] > 1 and live["map"]["n"] > 0 and live["recon"].startswith("data:image/png")


def test_a_load_command_puts_the_set_in_memory_once(monkeypatch):
    loads: list = []
    monkeypatch.setattr(worker, "builtin_training_set", lambda name: loads.append(name) or ("train", "test"))
    pool = worker.Pool()
    for command in ({"load": "digits"}, {"load": "digits"}, {"load": "../../etc/passwd"}):
        pool.handle(command)
    assert loads == ["digits"] and pool.data.sets["digits"] == ("train", None, "test")


def test_the_budget_counts_a_jobs_own_turns_not_the_time_it_waits():
    log: list = []
    pool = worker.Pool()
    busy, waiting = StandIn("busy", log, budget=3), StandIn("waiting", log, budget=3)
    pool.jobs = [busy]
    for _ in range(5):                          # rounds pass; the waiting job is not in them
        pool.round()
    assert waiting.own_s == 0 and waiting.left() == 3
    assert log == ["busy"] * 3 + ["busy done"]  # three turns of its own, then it ends: the budget is spent
    assert pool.jobs == []


def test_a_failing_job_ends_alone_with_its_message(tmp_path):
    log: list = []
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    (bad_dir / LIVE_NAME).write_text(json.dumps({"state": "running", "step": 7, "history": [1, 2]}))
    pool = worker.Pool()
    good, bad = StandIn("good", log), StandIn("bad", log, bad_dir)
    bad.fail = TrainingError("loss became nan at epoch 1, step 7: training stopped")
    pool.jobs = [bad, good]
    for _ in range(3):
        pool.round()
    live = read_json(bad_dir / LIVE_NAME)
    assert live["state"] == "failed" and "loss became nan" in live["message"] and live["history"] == [1, 2]
    assert pool.jobs == [good] and log == ["good"] * 3          # the other job trained every round


def test_out_of_memory_says_so_in_words(tmp_path):
    worker.failed(tmp_path, MemoryError())
    assert read_json(tmp_path / LIVE_NAME)["message"].startswith("out of memory")


@pytest.fixture
def held(tmp_path):
    s = TrainingService(tmp_path / "runs", registry=None, max_running=0, max_queue=10, teacher_key="sesame")
    yield s
    s.shutdown()


def test_one_caller_may_hold_only_a_few_unfinished_runs(held):
    mine = [held.submit(TINY, caller="page-a")[0] for _ in range(3)]
    with pytest.raises(ExplorerError, match="at most 3 at once"):
        held.submit(TINY, caller="page-a")
    held.submit(TINY, caller="page-b")             # another student is not held back
    held.stop(mine[0])                             # a finished one frees a place
    held.submit(TINY, caller="page-a")


def test_the_teacher_key_is_needed_to_stop_or_pause_another_run(held):
    a_token, a = held.submit(TINY | {"name": "Ada"}, caller="a")
    b_token, b = held.submit(TINY | {"name": "Bo"}, caller="b")
    with pytest.raises(ExplorerError, match="job token is needed"):
        held.stop(a.id)                            # the public id only watches
    for wrong in ("", None, "sesame ", "SESAME"):
        with pytest.raises(ExplorerError, match="not the teacher key"):
            held.teacher(wrong, "stop", a.id)
    assert held.status(a.id)["state"] == "queued"
    held.teacher("sesame", "pause", b.id)
    assert Control.read(b.dir).paused
    assert held.teacher("sesame", "stop", a.id)["state"] == "stopped"
    assert held.teacher("sesame", "stop_all")["stopped"] == 1 and held.status(b.id)["state"] == "stopped"
    assert held.teacher("sesame", "clear_finished") == {"cleared": 2}
    assert held.class_view()["runs"] == []          # cleared off the grid; the runs' folders stay
    assert (a.dir / "job.json").is_file()


def test_without_a_teacher_key_the_grid_is_watch_only(tmp_path):
    s = TrainingService(tmp_path / "runs", registry=None, max_running=0)
    try:
        _, job = s.submit(TINY)
        assert s.class_view()["teacher"] is False
        with pytest.raises(ExplorerError, match="no teacher key"):
            s.teacher("anything", "stop", job.id)
    finally:
        s.shutdown()


def test_a_students_name_is_plain_text_and_short():
    assert clean_name("<b>Ada</b>\x1b[31m\u202e\n  Lovelace") == "<b>Ada</b>[31m Lovelace"   # controls dropped
    assert len(clean_name("x" * 500)) == NAME_LIMIT and clean_name(None) == ""


def test_the_class_grid_sends_a_tile_whole_only_when_it_changed(held, tmp_path):
    _, a = held.submit(TINY | {"name": "Ada"})
    _, b = held.submit(TINY | {"name": "Bo"})
    view = held.class_view()
    assert [t["name"] for t in view["runs"]] == ["Ada", "Bo"] and view["teacher"] is True
    xy = np.array([[30000, -30000], [10, 20], [0, 0]], "<i2")
    labels = np.array([3, 1, 4], np.uint8)
    live = {"state": "running", "step": 40, "updated": view["now"] + 1, "knn": 0.61, "beta": 1.0,
            "history": [{"step": s, "recon": 500.0 - s, "kl": 1.0, "beta": 1.0} for s in range(100)],
            "map": {"xy": base64.b64encode(xy.tobytes()).decode(),
                    "labels": base64.b64encode(labels.tobytes()).decode()}}
    (b.dir / LIVE_NAME).write_text(json.dumps(live))
    held._take_view(b)
    later = held.class_view(since=view["now"])
    assert later["runs"][0] == {"job": a.id, "updated": 0}               # unchanged: its id only
    tile = later["runs"][1]
    assert tile["knn"] == 0.61 and len(tile["recon"]) == 48 and tile["recon"][-1] == 401.0
    assert len(json.dumps(tile)) < 2000                                    # small: a grid of 30 stays light
    m = tile["map"]
    q = np.frombuffer(base64.b64decode(m["xy"]), np.int8).reshape(-1, 2)
    assert q.tolist() == [[127, -127], [0, 0], [0, 0]] and m["n"] == 3
    assert tile_of({})["map"] is None and thin_map(live["map"], 2)["n"] == 2


def test_warm_starts_every_process_slot_once_with_the_data_set(monkeypatch, tmp_path):
    backend = LocalBackend(tmp_path, processes=2, cores=2)
    launched, sent = [], []

    class Alive:
        def poll(self):
            return None

    def launch(p):
        launched.append(p.index)
        p.proc = Alive()
    monkeypatch.setattr(backend, "_launch", launch)
    monkeypatch.setattr(TrainingProcess, "send", lambda p, command: sent.append((p.index, command)) or True)
    assert backend.warm(("fashion-mnist",)) == 2 and backend.warm(("fashion-mnist",)) == 2
    assert launched == [0, 1] and sent == [(0, {"load": "fashion-mnist"}), (1, {"load": "fashion-mnist"})]


def test_a_process_idle_too_long_is_let_go_and_one_with_a_job_is_kept(tmp_path):
    backend = LocalBackend(tmp_path, processes=2, cores=2)
    for p in backend.pool:                      # stand-ins that exit at the end of their input, as workers do
        p.proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    idle, busy = backend.pool
    busy.jobs.add(tmp_path / "run")
    process = idle.proc
    backend.release_idle(idle_s=3600)
    assert idle.alive and busy.alive            # not idle long enough yet
    idle.idle_since -= 3600
    busy.idle_since -= 3600
    backend.release_idle(idle_s=3600)
    assert process.wait(10) == 0 and idle.proc is None and busy.alive
    assert backend.lost() == []                 # let go is not lost: no job comes back
    busy.proc.stdin.close()
    busy.proc.wait(10)


def test_a_live_jobs_epoch_ends_measure_a_quick_share_of_the_test_set(tmp_path, monkeypatch):
    from model.training import loop
    seen = []
    monkeypatch.setattr(loop, "evaluate_split", lambda model, images, **kw: seen.append(len(images)) or
                        {"neg_elbo": 1.0, "recon": 1.0, "kl": 0.0})
    cfg = worker.job_config(TINY | {"lr": 2e-3}, tmp_path)
    assert cfg.epoch_test_images == worker.SNAPSHOT_TEST_IMAGES
    run = loop.setup(cfg)
    cfg.epoch_test_images = 100                          # digits' test set has 360: a share of it, not all
    loop.end_epoch(run, 0, [1.0, 1.0, 0.0], 1.0)
    cfg.epoch_test_images = 0                            # the CLI's default: the whole test set
    loop.end_epoch(run, 1, [1.0, 1.0, 0.0], 1.0)
    assert seen == [100, len(run.test_x)] and len(run.test_x) > 100
    assert run.history[0]["test_neg_elbo"] == 1.0


def test_the_service_warms_a_backend_that_can_and_says_none_for_one_that_cannot(tmp_path):
    class Warmable:
        def __init__(self):
            self.asked = []

        def warm(self, datasets):
            self.asked.append(datasets)
            return 2

        def lost(self):
            return []

        def shutdown(self, grace_s):
            pass

    class Remote(Warmable):
        warm = None                             # a cluster's actors start with the app: nothing to warm

    backend = Warmable()
    s = TrainingService(tmp_path / "a", registry=None, backend=backend)
    r = TrainingService(tmp_path / "b", registry=None, backend=Remote())
    try:
        assert s.warm(["fashion-mnist"]) == 2 and backend.asked == [("fashion-mnist",)]
        assert r.warm(["fashion-mnist"]) == 0
    finally:
        s.shutdown()
        r.shutdown()


def test_a_run_ends_in_the_service_even_when_a_pages_poll_read_its_last_view_first(tmp_path):
    """The live view's poll (service.live) reads live.json too; the monitor must still act on what it read."""
    class Quiet:
        def __init__(self):
            self.finished = []

        def start(self, run_dir):
            return "local"

        def view(self, run_dir):
            return read_json(Path(run_dir) / LIVE_NAME)

        def control(self, run_dir, control):
            pass

        def ended(self, run_dir):
            self.finished.append(Path(run_dir))

        def lost(self):
            return []

        def shutdown(self, grace_s):
            pass

    backend = Quiet()
    s = TrainingService(tmp_path / "runs", registry=None, max_running=1, backend=backend)
    s._stop.set()                                           # this test turns the monitor's rounds itself
    s.thread.join()
    try:
        token, job = s.submit(TINY)
        (job.dir / LIVE_NAME).write_text(json.dumps({"state": "running", "step": 3, "history": []}))
        s.poll()
        assert s.status(token)["state"] == "running"
        (job.dir / LIVE_NAME).write_text(json.dumps({"state": "done", "step": 9, "history": [],
                                                     "message": "done: the budget is spent"}))
        assert s.live(job.id)["step"] == 9                  # a page's poll takes the new view first
        s.poll()
        assert s.status(token)["state"] == "done" and backend.finished == [job.dir]
    finally:
        s.shutdown()


def test_warm_sends_a_newly_chosen_data_set_to_processes_already_running(monkeypatch, tmp_path):
    backend = LocalBackend(tmp_path, processes=2, cores=2)
    sent = []

    class Alive:
        def poll(self):
            return None

    monkeypatch.setattr(backend, "_launch", lambda p: setattr(p, "proc", Alive()))
    monkeypatch.setattr(TrainingProcess, "send", lambda p, command: sent.append((p.index, command)) or True)
    backend.warm(("fashion-mnist",))
    sent.clear()
    backend.warm(("digits",))                   # the Train tab's data set changed: both processes load it
    backend.warm(("digits",))
    assert sent == [(0, {"load": "digits"}), (1, {"load": "digits"})]
