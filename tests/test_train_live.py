"""Train it live: the training service, its worker processes, its controls and its refusals.

Fast tests drive TrainingService with no slot free (max_running=0), so nothing starts; the slow ones start
real workers on scikit-learn's digits with a budget of a few seconds."""
import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from model.nets.limits import ExplorerError
from model.serving import requests as ex
from model.serving.registry import ModelRegistry
from model.serving.training import TrainingService, checked_settings, checkpoint_step
from model.store.bundle import pack_model, unpack_model
from model.training.control import CONTROL_NAME, JOB_NAME, LIVE_NAME

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights"
TINY = {"dataset": "digits", "latent_dim": 2, "beta": 1.0, "size": "small"}


class Registry:
    """What the service needs of a registry: add (it records the names it was given)."""

    def __init__(self):
        self.added = []

    def add(self, name, path, source="trained"):
        self.added.append((name, Path(path), source))


@pytest.fixture
def held(tmp_path):
    """A service that starts nothing (no slot): jobs stay queued."""
    s = TrainingService(tmp_path / "runs", Registry(), max_running=0, max_queue=3)
    yield s
    s.shutdown()


def wait_for(service, ref, states, timeout=120.0, also=lambda s: True) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = service.status(ref)
        if s["state"] in states and also(s):
            return s
        time.sleep(0.2)
    raise AssertionError(f"job {ref} did not reach {states}: {service.status(ref)}")


# ---------------------------------------------------------------- settings and refusals (fast)
@pytest.mark.parametrize("bad, words", [
    ({"beta": 25}, "β must be between 0 and 20"),
    ({"beta": -1}, "β must be between 0 and 20"),
    ({"beta": float("nan")}, "β must be between"),
    ({"seconds": 3}, "time budget (seconds) must be between 5 and 1800"),
    ({"seconds": 10_000}, "must be between 5 and 1800"),
    ({"latent_dim": 3}, "latent size must be one of 2, 4, 8, 16, 32"),
    ({"lr": 1.0}, "learning rate must be between"),
    ({"dataset": "cifar"}, "unknown data set 'cifar'"),
    ({"size": "huge"}, "model size must be one of small, medium"),
    ({"beta": "lots"}, "must be numbers"),
])
def test_settings_out_of_range_are_refused_with_their_name(bad, words):
    with pytest.raises(ExplorerError, match=None) as e:
        checked_settings(TINY | bad)
    assert words in str(e.value)


def test_defaults_are_a_two_d_model_for_45_seconds():
    s = checked_settings({})
    assert s == {"dataset": "fashion-mnist", "size": "small", "kl_warmup": True, "seed": 0, "latent_dim": 2,
                 "beta": 1.0, "lr": 2e-3, "seconds": 45.0, "name": ""}


def test_queue_positions_and_a_full_queue(held):
    tokens = [held.submit(TINY | {"seconds": 5})[0] for _ in range(3)]
    assert [held.status(t)["queue_position"] for t in tokens] == [0, 1, 2]
    assert held.status(tokens[2])["message"] == "waiting: 2 ahead of you"
    with pytest.raises(ExplorerError, match=r"queue is full \(0 runs training, 3 waiting\)"):
        held.submit(TINY | {"seconds": 5})
    held.stop(tokens[0])                                  # a queued job stops without starting
    assert held.status(tokens[0])["state"] == "stopped"
    assert [held.status(t)["queue_position"] for t in tokens[1:]] == [0, 1]
    held.submit(TINY | {"seconds": 5})                    # a place is free again


def test_only_the_token_controls_a_job_and_the_id_only_watches(held):
    token, job = held.submit(TINY | {"seconds": 5})
    assert held.status(job.id)["job"] == job.id == held.status(token)["job"]     # anyone may watch
    for wrong in (job.id, "x" * 32, "", None):
        with pytest.raises(ExplorerError, match="job token is needed"):
            held.set(wrong, beta=2.0)
        with pytest.raises(ExplorerError, match="job token is needed"):
            held.stop(wrong)
    assert len(token) >= 32 and token not in json.dumps(held.status(job.id))
    spec = (job.dir / JOB_NAME).read_text()
    assert token not in spec and job.id in spec           # only the token's hash is stored
    with pytest.raises(ExplorerError, match="β must be between"):
        held.set(token, beta=99)
    held.set(token, beta=3.0, lr=1e-3)
    control = json.loads((job.dir / CONTROL_NAME).read_text())
    assert control["beta"] == 3.0 and control["lr"] == 1e-3
    with pytest.raises(ExplorerError, match="no such training job"):
        held.status("nope")


def test_an_upload_needs_images(held):
    with pytest.raises(ExplorerError, match="upload your images first"):
        held.submit({"dataset": "upload", "seconds": 5})


def test_a_restarted_server_stops_what_was_running_and_keeps_its_checkpoint(tmp_path):
    runs = tmp_path / "runs"
    d = runs / "abcd1234"
    d.mkdir(parents=True)
    (d / JOB_NAME).write_text(json.dumps({"id": "abcd1234", "token_sha256": "0" * 64, "created": 1.0,
                                          "settings": checked_settings(TINY | {"seconds": 5})}))
    (d / LIVE_NAME).write_text(json.dumps({"state": "running", "step": 40}))
    s = TrainingService(runs, Registry(), max_running=0)
    try:
        st = s.status("abcd1234")
        assert st["state"] == "stopped"
        assert "the server restarted" in st["message"] and "had not reached its first checkpoint" in st["message"]
    finally:
        s.shutdown()


def make_pictures(folder: Path, n: int) -> list[str]:
    """n small PNGs: a bright square or a disc on black, at random places."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        a = np.zeros((40, 40), np.uint8)
        x, y = rng.integers(4, 24, size=2)
        if i % 2:
            a[y:y + 12, x:x + 12] = 255
        else:
            yy, xx = np.mgrid[:40, :40]
            a[(yy - y - 6) ** 2 + (xx - x - 6) ** 2 < 36] = 255
        p = folder / f"p{i:03d}.png"
        Image.fromarray(a).save(p)
        paths.append(str(p))
    return paths


@pytest.mark.parametrize("count, words", [(0, "no files"), (1, "one image is not enough")])
def test_train_endpoint_refuses_too_few_images(api, tmp_path, count, words):
    import gradio as gr
    paths = make_pictures(tmp_path / "few", count)
    with pytest.raises(gr.Error, match=words):
        api.train("upload", paths, 2, 1.0, 10)


def test_train_endpoint_refuses_a_zip_that_climbs_out(api, tmp_path):
    import zipfile

    import gradio as gr
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("../../etc/evil.png", b"\x89PNG\r\n\x1a\n")
    with pytest.raises(gr.Error, match="points outside the zip"):
        api.train("upload", [str(z)], 2, 1.0, 10)


def test_models_lists_every_model_with_its_source(api):
    listing = api.models()
    names = {m["name"]: m for m in listing}
    assert names["fashion-mnist"] == {"name": "fashion-mnist", "kind": "vae", "latent_dim": 16, "source": "shipped"}
    assert names["fashion-mnist-vq"]["kind"] == "vq"


def left_marks(folder: Path, n: int = 10) -> list[str]:
    """n pictures of a dark bar near the left edge, at a different height each: a mirrored copy has its bar on
    the right, where no shift of at most 2 pixels can put it."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        a = np.full((28, 28), 255, np.uint8)
        a[2 + 2 * i:4 + 2 * i, 2:8] = 0
        Image.fromarray(a).save(folder / f"m{i}.png")
        paths.append(str(folder / f"m{i}.png"))
    return paths


def test_own_pictures_are_shifted_and_flipped_only_when_the_box_is_ticked(held, registry, tmp_path):
    """Handwriting, digits, letters and text read wrong mirrored: the Train tab's augmentation shifts by default,
    mirrors only with its own box ticked (off at first), and what the box says reaches the worker's data."""
    import gradio as gr

    from model.training.control import DATA_NAME
    from ui.runtime import PageRuntime
    from ui.train import TrainPanel

    panel = TrainPanel(registry, held, PageRuntime(registry))
    with gr.Blocks() as demo:
        panel.build(gr.Dropdown(registry.names(), value="fashion-mnist"))
    assert panel.augment.value is True and panel.flips.value is False
    wired = [d for d in demo.fns.values() if d.fn == panel.prepare]
    assert wired and all(d.inputs[4] is panel.flips for d in wired)          # prepare(files, snaps, colour, aug, flips)
    assert any(d.targets[0][0] == panel.flips._id for d in wired)              # ticking it prepares the set again

    files = [{"path": p, "meta": {"_type": "gradio.FileData"}} for p in left_marks(tmp_path / "marks")]

    def trained_on(*flips) -> tuple[np.ndarray, str]:
        prepared, line, _ = panel.prepare(files, [], "grey", True, *flips, progress=lambda *a, **k: None)
        token, job = panel.start_job("upload", prepared, 2, 1.0, 5, "small", True)
        with np.load(job.dir / DATA_NAME) as data:
            images = data["train_images"]
        held.stop(token)
        return images, line

    def right_side(images: np.ndarray) -> int:
        return int((images[:, 0, :, 14:] == 0).any(axis=(1, 2)).sum())

    plain, line = trained_on()
    assert len(plain) > 9 * 4 and "small shifts" in line and "flips" not in line     # augmented: shifted copies
    assert right_side(plain) == 0                                                     # none of them mirrored
    flipped, line = trained_on(True)
    assert "and flips" in line and len(flipped) == len(plain) and right_side(flipped) > 0


def test_the_train_tab_offers_model_datas_sets_and_says_the_warm_up_it_runs(held, registry, monkeypatch):
    import gradio as gr

    import ui.train
    from model.data import TRAIN_SETS

    assert [value for _, value in ui.train.DATA_CHOICES] == [*TRAIN_SETS, ui.train.UPLOAD]
    monkeypatch.setattr(ui.train, "KL_WARMUP_STEPS", 123)
    panel = ui.train.TrainPanel(registry, held, ui.train.PageRuntime(registry))
    with gr.Blocks():
        panel.build(gr.Dropdown(registry.names(), value="fashion-mnist"))
    assert "the first 123 steps" in panel.warmup.label


# ---------------------------------------------------------------- real workers (slow)
@pytest.fixture
def service(tmp_path):
    registry = ModelRegistry(WEIGHTS)
    s = TrainingService(tmp_path / "runs", registry, max_running=4, max_queue=4, threads=1)
    yield s
    s.shutdown()


@pytest.mark.slow
def test_a_live_run_changes_beta_stops_and_becomes_a_model_every_endpoint_takes(service, tmp_path):
    token, job = service.submit(TINY | {"seconds": 60})
    s = wait_for(service, token, ("running",), also=lambda s: s["step"] >= 30)
    service.set(token, beta=4.0)
    s = wait_for(service, token, ("running",), also=lambda s: s["beta"] == 4.0 and s["marks"])
    assert s["marks"][0]["text"] == "β 1 → 4" and s["marks"][0]["step"] >= 30
    assert s["images_per_s"] > 0 and s["seconds_left"] < 60
    live = service.live(job.id, since_step=s["history"][-1]["step"])
    assert live["history"] == [] or live["history"][0]["step"] > s["history"][-1]["step"]   # only newer rows
    assert live["recon"].startswith("data:image/png;base64,") and len(live["kl_per_dim"]) == 2
    again = service.live(job.id, since_step=10**9, seen=live["updated"])
    assert again["history"] == [] and ("map" not in again or again["updated"] != live["updated"])  # nothing seen twice
    assert live["map"]["n"] == 360 and "latent plane" in live["map"]["method"]    # digits' whole test split
    service.stop(token)
    s = wait_for(service, token, ("stopped",))
    assert s["model"] == job.model_name and s["history"][-1]["beta"] == 4.0
    rows = s["history"]
    assert all(r["recon"] > 0 for r in rows) and rows[0]["recon"] > rows[-1]["recon"]   # it learned
    # the model, as any other: every request takes its name
    m = service.registry.get(s["model"])
    assert service.registry.entry(s["model"]).source == "trained" and m.dim == 2
    assert ex.decode(m, [0.0, 0.0]).size[0] > 0
    assert checkpoint_step(job.dir / "checkpoint.safetensors") == s["step"]
    # downloaded as a zip and loaded on another server
    z = tmp_path / "model.zip"
    z.write_bytes(pack_model(job.dir))
    other = tmp_path / "other-weights"
    other.mkdir()
    unpack_model(z, other / "from-class")
    fresh = ModelRegistry(other)
    got = fresh.get("from-class")
    zed = torch.zeros(1, 2)
    assert torch.equal(got.vae.decode(zed), m.vae.decode(zed))


@pytest.mark.slow
def test_a_killed_training_process_loses_nothing_its_jobs_resume_from_their_checkpoints(service):
    """SIGKILL the process that trains two jobs: both start again in a new process from their last checkpoints,
    say so, and finish; the service answers throughout."""
    runs = [service.submit(TINY | {"seconds": 120, "name": f"s{i}"}) for i in range(2)]
    for token, _ in runs:
        wait_for(service, token, ("running",), also=lambda s: s["step"] >= 20)
    deadline = time.monotonic() + 60                       # until the first regular checkpoints (every 10 s)
    while (any(checkpoint_step(job.dir / "checkpoint.safetensors") is None for _, job in runs)
           and time.monotonic() < deadline):
        time.sleep(0.2)
    process = next(p for p in service.backend.pool if p.jobs)
    assert {j.dir for _, j in runs} <= process.jobs          # one process trains both (one place for two jobs)
    os.kill(process.proc.pid, signal.SIGKILL)
    kept = {}
    for token, job in runs:
        s = wait_for(service, token, ("running",), also=lambda s: "resumed from its checkpoint" in s["message"])
        kept[job.id] = checkpoint_step(job.dir / "checkpoint.safetensors")
        assert f"at step {kept[job.id]}" in s["message"] and "training process was lost" in s["message"]
        assert service.status(job.id)["state"] == "running"  # the service still answers
    for token, job in runs:
        # it trains on from there
        wait_for(service, token, ("running",), also=lambda s, at=kept[job.id]: s["step"] > at > 0)
        service.stop(token)
        s = wait_for(service, token, ("stopped",))
        assert s["model"] == job.model_name
    logs = "".join(p.read_text() for p in (service.root / ".processes").glob("*.log"))
    for _, job in runs:
        assert f"resuming from {job.dir / 'checkpoint.safetensors'} after step {kept[job.id]}" in logs


@pytest.mark.slow
def test_own_pictures_train_beside_a_built_in_set(api, tmp_path):
    paths = make_pictures(tmp_path / "mine", 40)
    first = api.train("upload", paths, 2, 1.0, 8)
    second = api.train("digits", [], 2, 1.0, 5)
    assert first["queue_position"] == 0 and second["queue_position"] == 0       # both train at once
    service = api.train_panel.service
    s1 = wait_for(service, first["job"], ("done",))
    assert s1["settings"]["dataset"] == "upload" and s1["model"]
    model = api.registry.get(s1["model"])
    assert model.config.channels == 1 and model.config.image_size == 28
    assert Path(api.decode([0.0, 0.0], s1["model"])).is_file()             # every endpoint takes its name
    assert any(m["name"] == s1["model"] and m["source"] == "trained" for m in api.models())
    wait_for(service, second["job"], ("done",))
    stopped = api.train_stop(second["job"])                # stopping a finished job changes nothing
    assert stopped["state"] == "done"


def test_a_model_zip_loads_keeps_its_name_after_a_restart_and_may_not_take_a_shipped_name(tmp_path):
    z = tmp_path / "class-model.zip"
    z.write_bytes(pack_model(WEIGHTS / "fashion-mnist-2d"))
    runs = tmp_path / "runs"
    registry = ModelRegistry(WEIGHTS)
    s = TrainingService(runs, registry, max_running=0)
    try:
        with pytest.raises(ExplorerError, match="shipped with this server"):
            s.load_zip(z, "fashion-mnist")
        assert s.load_zip(z, "class-model") == "class-model"
        assert registry.entry("class-model").source == "trained"
        assert {"name": "class-model", "kind": "vae", "latent_dim": 2, "source": "trained"} in registry.listing()
    finally:
        s.shutdown()
    again = ModelRegistry(WEIGHTS)                     # a restarted server
    TrainingService(runs, again, max_running=0).shutdown()
    assert "class-model" in again
    zed = torch.zeros(1, 2)
    assert torch.equal(again.get("class-model").vae.decode(zed), registry.get("fashion-mnist-2d").vae.decode(zed))


@pytest.mark.slow
def test_eight_students_train_at_once_each_sees_its_run_live_and_every_run_finishes(api):
    """Eight /train calls at once share the training process in turns: each run shows live points while the
    others train (none waits in a queue), its budget counts its own training, and every run ends as a model."""
    service = api.train_panel.service
    jobs = [api.train("digits", [], 2, float(b), 5)["job"] for b in (0.5, 1, 1, 2, 4, 1, 1, 8)]
    live: dict[str, int] = {}
    deadline = time.monotonic() + 600                           # a guard against a hang, not a timing
    while time.monotonic() < deadline:
        states = {t: service.status(t) for t in jobs}
        for t, s in states.items():
            if s["state"] == "running" and s["history"]:
                live.setdefault(t, sum(x["state"] == "running" for x in states.values()))
        if all(s["state"] == "done" for s in states.values()):
            break
        time.sleep(0.3)
    assert all(s["state"] == "done" and s["model"] for s in states.values()), states
    assert set(live) == set(jobs)                               # every run was seen training, live
    assert max(live.values()) >= 4                              # ... while others trained beside it
    for s in states.values():
        assert s["own_seconds"] >= 5 and s["seconds_left"] == 0 and s["knn"] is not None
