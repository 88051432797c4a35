"""The class view and the Train tab's handlers for a class (fast: a service that starts nothing, max_running=0):
a student's name at Start kept as plain text and shown in the status and the grid, at most a few unfinished runs
per page or API client (its session), the teacher's controls refused without the key or with a wrong one and
working with the right one, the grid's incremental polls, and "Explore this model" returning at once."""
import json
import os
import time
from types import SimpleNamespace

import gradio as gr
import pytest

from model.serving.training import TrainingService
from model.training.control import CONTROL_NAME, LIVE_NAME
from ui.api import Api
from ui.classview import ClassView
from ui.runtime import PageRuntime
from ui.train import TrainPanel

KEY = "correct horse battery staple"


@pytest.fixture
def service(tmp_path, registry):
    s = TrainingService(tmp_path / "runs", registry, max_running=0, max_queue=20, teacher_key=KEY)
    yield s
    s.shutdown()


@pytest.fixture
def panel(service, registry):
    return TrainPanel(registry, service, PageRuntime(registry))


def session(name: str) -> SimpleNamespace:
    """What a handler reads of gr.Request: the page's (or gradio_client's) session."""
    return SimpleNamespace(session_hash=name)


def start(panel, name="", request=None, dataset="digits"):
    token, view, _ = panel.on_start(dataset, None, 2, 1.0, 30, "small", True, 2e-3, name, request)
    return token, view["job"]


def test_a_name_at_start_is_plain_text_in_the_status_the_grid_and_the_watch_list(panel, service):
    raw = "<img src=x onerror=alert(1)>\n\x1b[31mAda\u202e " + "L" * 60
    token, job = start(panel, raw, session("a"))
    name = service.status(job)["name"]
    assert name.startswith("<img src=x onerror=alert(1)>") and "Ada" in name       # kept, as text
    assert len(name) == 40 and "\n" not in name and "\x1b" not in name and "\u202e" not in name
    tile = next(t for t in ClassView(service, panel.runtime).class_view(None)["runs"] if t["job"] == job)
    assert tile["name"] == name
    assert any(name in label for label, _ in service.watchable())
    assert token not in json.dumps(service.class_view(None))                    # the grid never carries a token


def test_the_api_passes_the_name_and_counts_each_client_on_its_own(panel, service):
    api = Api(panel.registry, None, None, None, None, panel, None)
    first = api.train("digits", [], 2, 1.0, 30, name="Grace", request=session("client-1"))
    assert service.status(first["job"])["name"] == "Grace"
    assert api.train("digits", [], 2, 1.0, 30, request=session("client-1"))["job"]      # name is optional
    api.train("digits", [], 2, 1.0, 30, request=session("client-1"))
    with pytest.raises(gr.Error, match="at most 3 at once"):
        api.train("digits", [], 2, 1.0, 30, request=session("client-1"))
    assert api.train("digits", [], 2, 1.0, 30, request=session("client-2"))["job"]      # another client


def test_one_page_holds_at_most_three_unfinished_runs_another_page_is_not_held_back(panel, service):
    tokens = [start(panel, f"run {i}", session("page-a"))[0] for i in range(3)]
    with pytest.raises(gr.Error, match="you already have 3 runs that have not finished"):
        start(panel, "one too many", session("page-a"))
    assert start(panel, "", session("page-b"))[1]                                  # another page's session
    panel.on_stop(tokens[0])                                                        # one ended: a place is free
    assert start(panel, "again", session("page-a"))[1]


def test_teacher_actions_need_the_server_s_key(panel, service, tmp_path, registry):
    grid = ClassView(service, panel.runtime)
    _, job = start(panel, "Ada", session("a"))
    for key in (None, "", "wrong", KEY + " "):
        refused = grid.class_teacher([key, "stop", job])
        assert refused == {"ok": False, "message": "that is not the teacher key"}, key
        assert grid.class_teacher([key, "check", None])["ok"] is False
    assert service.status(job)["state"] == "queued"
    assert grid.class_teacher([KEY, "check", None]) == {"ok": True}
    assert grid.class_teacher([KEY, "pause", job])["ok"]
    assert json.loads((service.find(job).dir / CONTROL_NAME).read_text())["paused"] is True
    assert grid.class_teacher([KEY, "stop", job])["state"] == "stopped"
    assert grid.class_teacher([KEY, "explode", job])["ok"] is False
    assert "send [key, action, job]" in grid.class_teacher("stop")["message"]

    keyless = TrainingService(tmp_path / "other", registry, max_running=0)       # no --teacher-key: watch-only
    try:
        said = ClassView(keyless, panel.runtime).class_teacher([KEY, "check", None])
        assert said["ok"] is False and "no teacher key" in said["message"]
        assert keyless.class_view(None)["teacher"] is False
    finally:
        keyless.shutdown()


def test_stop_all_and_clear_finished(panel, service):
    grid = ClassView(service, panel.runtime)
    jobs = [start(panel, f"s{i}", session(f"p{i}"))[1] for i in range(3)]
    assert grid.class_teacher([KEY, "stop_all", None]) == {"ok": True, "stopped": 3}
    assert {service.status(j)["state"] for j in jobs} == {"stopped"}
    assert grid.class_teacher([KEY, "clear_finished", None]) == {"ok": True, "cleared": 3}
    assert grid.class_view(None)["runs"] == []
    assert service.status(jobs[0])["state"] == "stopped"                            # cleared off the grid only


def test_the_grid_sends_a_tile_whole_only_when_it_changed(panel, service):
    grid = ClassView(service, panel.runtime)
    a, b = (start(panel, n, session(n))[1] for n in ("a", "b"))
    first = grid.class_view(None)
    assert [t["job"] for t in first["runs"]] == [a, b] and all("state" in t for t in first["runs"])
    assert first["teacher"] is True and KEY not in json.dumps(first)
    quiet = grid.class_view(first["now"])
    assert [set(t) for t in quiet["runs"]] == [{"job", "updated"}] * 2
    live = service.find(b).dir / LIVE_NAME
    live.write_text(json.dumps({"state": "running", "step": 7, "updated": time.time(), "beta": 2.0, "knn": 0.61,
                                "history": [{"step": 7, "recon": 50.0, "kl": 3.0}]}))
    os.utime(live, (time.time() + 5, time.time() + 5))                           # a new mtime, whatever the clock
    service.live(b)                                                                 # the monitor's read, by hand
    changed = grid.class_view(quiet["now"])["runs"]
    assert set(changed[0]) == {"job", "updated"}
    assert changed[1]["knn"] == 0.61 and changed[1]["step"] == 7 and changed[1]["recon"] == [50.0]
    assert grid.class_view("not a time")["runs"][0]["state"]                       # a bad `since`: everything


def test_a_tile_opens_its_run_in_the_live_view(panel, service):
    _, job = start(panel, "Ada", session("a"))
    watch, view = panel.on_tile(gr.SelectData(None, {"value": job, "index": 0}))
    assert watch["value"] == job and view["job"] == job and view["rules"]["palette"]
    with pytest.raises(gr.Error, match="no such training job"):
        panel.on_tile(gr.SelectData(None, {"value": "nope", "index": 0}))


def test_explore_returns_at_once_and_the_live_view_switches_the_picker_when_the_snapshot_is_ready(panel, service):
    token, job_id = start(panel, "Ada", session("a"))
    job = service.find(job_id)
    job.state = "running"                                                            # as if a process trained it
    picker, view = panel.on_explore(token, None)
    assert picker == gr.update() and view["job"] == job_id and view["explore"] == 0  # no wait: the page watches
    assert json.loads((job.dir / CONTROL_NAME).read_text())["publish"] == 1          # the snapshot is asked for
    assert service.status(job_id)["model_version"] == 0
    switched = panel.on_explore_ready(gr.SelectData(None, {"value": "fashion-mnist", "index": 1}))
    assert switched["value"] == "fashion-mnist"
    with pytest.raises(gr.Error, match="no model named"):
        panel.on_explore_ready(gr.SelectData(None, {"value": "run-nope", "index": 1}))

    job.state, job.model_version = "done", 2                                         # a watcher: the last snapshot
    picker, view = panel.on_explore(None, job_id)
    assert picker["value"] == job.model_name and view == gr.update()


def test_app_options_size_the_queue_for_a_class_and_read_the_teacher_key(monkeypatch):
    import app

    monkeypatch.delenv("VAE_TEACHER_KEY", raising=False)
    args = app.parse_args([])
    assert (args.train_jobs, args.train_queue, args.train_threads, args.train_processes) == (32, 32, 0, 0)
    assert args.train_jobs + args.train_queue >= 64 and args.teacher_key is None
    monkeypatch.setenv("VAE_TEACHER_KEY", "from-env")
    assert app.parse_args([]).teacher_key == "from-env"
    assert app.parse_args(["--teacher-key", "flag"]).teacher_key == "flag"
