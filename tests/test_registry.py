"""The registry: start-up reads each model's entry only, a model is loaded on first
use and at most max_loaded stay loaded, a corrupt folder fails on first use without taking the others
down, and trained runs are added and removed while the server serves.

The weights roots here are folders of links to the shipped files (fashion-mnist-2d, whose atlas reads its
thumbnails from the fashion-mnist folder beside it): nothing is copied, and nothing writes through a link.
"""
import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from model.nets.limits import ExplorerError
from model.serving import registry as reg_module
from model.serving.registry import LoadedModel, ModelEntry, ModelRegistry
from model.store.weights import WeightsError

MODEL_FILES = ("config.json", "model.safetensors", "atlas.npz", "metrics.json")
SOURCE = "fashion-mnist-2d"
COPIES = [f"copy-{i}" for i in range(8)]


def linked_model(src: Path, dst: Path) -> Path:
    """dst holds a link to each of src's model files."""
    dst.mkdir(parents=True)
    for name in MODEL_FILES:
        if (src / name).is_file():
            (dst / name).symlink_to((src / name).resolve())
    return dst


def replace_file(path: Path, data: bytes) -> None:
    """Write a real file where a link was (writing through the link would change the shipped weights)."""
    path.unlink()
    path.write_bytes(data)


@pytest.fixture
def root(tmp_path, weights_root) -> Path:
    """fashion-mnist (the thumbnails' owner) and eight links to fashion-mnist-2d: nine models."""
    r = tmp_path / "root"
    r.mkdir()
    (r / "fashion-mnist").symlink_to((weights_root / "fashion-mnist").resolve(), target_is_directory=True)
    for name in COPIES:
        linked_model(weights_root / SOURCE, r / name)
    return r


@pytest.fixture
def run(tmp_path, weights_root) -> Path:
    """A weights folder outside the root, as a training run publishes one (runs/<id>/model): emoji's files
    (its atlas holds its own thumbnails; fashion-mnist-2d's would look for a fashion-mnist folder beside it)."""
    return linked_model(weights_root / "emoji", tmp_path / "runs" / "r1" / "model")


def no_loading(monkeypatch) -> None:
    def refuse(*a, **k):
        raise AssertionError("a model was loaded")
    monkeypatch.setattr(reg_module, "load_vae", refuse)
    monkeypatch.setattr(reg_module, "load_atlas", refuse)


# ---------------------------------------------------------------- start-up reads entries only
def test_start_up_loads_no_model_and_the_picker_needs_none(root, monkeypatch):
    from ui import text

    no_loading(monkeypatch)
    reg = ModelRegistry(root)
    assert reg.loaded_names() == []
    assert reg.names() == ["copy-0", "copy-1", "copy-2", "copy-3", "copy-4", "copy-5", "copy-6", "copy-7",
                           "fashion-mnist"]
    e = reg.entry("copy-3")
    assert isinstance(e, ModelEntry) and e.source == "shipped" and e.path == root / "copy-3"
    assert e.config.latent_dim == e.dim == 2 and e.kind == "vae" and e.metrics.get("description")
    labels = dict((n, label) for label, n in text.picker_choices(reg))
    assert labels["copy-3"] == f"copy-3 — {e.description}"
    assert reg.default() == "fashion-mnist" and "copy-3" in reg and "nope" not in reg
    assert reg.loaded_names() == []


def test_a_folder_failing_the_start_up_checks_is_left_out_with_a_warning(root):
    (root / "copy-1" / "atlas.npz").unlink()
    (root / "copy-2" / "config.json").unlink()
    (root / "copy-2" / "config.json").write_text("{not json")
    replace_file(root / "copy-4" / "metrics.json", b"[1, 2]")
    reg = ModelRegistry(root)
    assert "copy-1" not in reg and "copy-2" not in reg and "copy-4" not in reg and "copy-5" in reg
    why = {w.split("'")[1]: w for w in reg.warnings}
    assert "atlas.npz: missing" in why["copy-1"]
    assert "config.json: not a valid config" in why["copy-2"]
    assert "metrics.json: not a JSON object" in why["copy-4"]


def test_unknown_names_are_refused_with_the_list(root):
    reg = ModelRegistry(root)
    for bad in ("../../etc", None, 3, ["copy-1"]):
        with pytest.raises(ExplorerError, match="unknown model .*choose one of: copy-0, copy-1"):
            reg.entry(bad)
        with pytest.raises(ExplorerError, match="unknown model"):
            reg.get(bad)


# ---------------------------------------------------------------- loaded on use, at most max_loaded
def test_get_loads_on_first_use_and_keeps_the_model(root):
    reg = ModelRegistry(root)
    m = reg.get("copy-5")
    assert isinstance(m, LoadedModel) and m.name == "copy-5" and m.dim == 2 and m.path == root / "copy-5"
    assert m.metrics is reg.entry("copy-5").metrics and m.description == reg.entry("copy-5").description
    assert reg.loaded_names() == ["copy-5"]
    assert reg.get("copy-5") is m


def test_at_most_max_loaded_models_stay_loaded_least_recently_used_out(root):
    evictions = []
    reg = ModelRegistry(root, max_loaded=3, on_evict=lambda: evictions.append(reg.loaded_names()))
    names = reg.names()
    for _ in range(2):
        for name in names:
            reg.get(name)
            assert len(reg.loaded_names()) <= 3
    assert reg.loaded_names() == names[-3:]
    assert len(evictions) == 2 * len(names) - 3                 # after each eviction, the lock released
    assert evictions[0] == names[1:4]
    reg.get(names[-3])                                   # used again: now the most recent
    reg.get("copy-0")                                    # loaded: the least recently used goes
    assert reg.loaded_names() == [names[-1], names[-3], "copy-0"]
    with pytest.raises(ValueError, match="max_loaded"):
        ModelRegistry(root, max_loaded=0)


def test_a_corrupt_folder_fails_on_first_use_and_the_others_still_work(root):
    import gradio as gr

    from ui.server import user_errors

    data = (root / "copy-3" / "model.safetensors").read_bytes()
    replace_file(root / "copy-3" / "model.safetensors", data[: len(data) // 3])
    with open(root / "copy-6" / "atlas.npz", "rb") as f:
        replace_file(root / "copy-6" / "atlas.npz", f.read()[:1000])
    reg = ModelRegistry(root)                            # the files exist: start-up does not read them
    assert "copy-3" in reg and reg.warnings == []
    for name, file, why in (("copy-3", "model.safetensors", "corrupt or truncated safetensors"),
                            ("copy-6", "atlas.npz", "corrupt atlas")):
        with pytest.raises(WeightsError) as info:
            reg.get(name)
        msg = str(info.value)
        assert msg.startswith(f"model {name!r}: ") and str(root / name / file) in msg and why in msg
        assert "\n" not in msg
        with pytest.raises(gr.Error, match=why):        # the page's wrapper: a message, and serving goes on
            user_errors(reg.get)(name)
    assert reg.get("copy-4").dim == 2 and reg.loaded_names() == ["copy-4"]


def test_concurrent_gets_of_one_model_load_it_once(root, monkeypatch):
    calls = []
    real = reg_module.load_vae

    def slow_load(directory, *a, **k):
        calls.append(Path(directory).name)
        time.sleep(0.3)                                  # long enough for every thread to ask meanwhile
        return real(directory, *a, **k)

    monkeypatch.setattr(reg_module, "load_vae", slow_load)
    reg = ModelRegistry(root)
    got, start = [None] * 8, threading.Barrier(8)

    def ask(i):
        start.wait()
        got[i] = reg.get("copy-2" if i < 6 else "copy-7")

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(calls) == ["copy-2", "copy-7"]
    assert all(g is got[0] for g in got[:6]) and got[6] is got[7] and got[0] is not got[6]


# ---------------------------------------------------------------- trained runs: add, remove, version, listing
def test_add_and_remove_a_trained_model(root, run, weights_root):
    reg = ModelRegistry(root)
    v0 = reg.version
    e = reg.add("run-b", run)
    assert e.source == "trained" and e.path == run and reg.version == v0 + 1
    ae = linked_model(weights_root / "fashion-mnist-2d-ae", run.parent.parent / "r2" / "model")
    reg.add("run-a", ae)
    assert reg.version == v0 + 2
    assert reg.names() == [*COPIES, "fashion-mnist", "run-b", "run-a"]     # shipped by name, then as added
    assert [e.name for e in reg.entries()] == reg.names()
    assert reg.listing()[-3:] == [
        {"name": "fashion-mnist", "kind": "vae", "latent_dim": 16, "source": "shipped"},
        {"name": "run-b", "kind": "vae", "latent_dim": 32, "source": "trained"},
        {"name": "run-a", "kind": "ae", "latent_dim": 2, "source": "trained"}]
    assert reg.get("run-b").path == run and "run-b" in reg.loaded_names()
    reg.remove("run-b")
    assert "run-b" not in reg and "run-b" not in reg.loaded_names() and reg.version == v0 + 3
    assert run.is_dir()                                  # its folder stays on disk
    with pytest.raises(ExplorerError, match="unknown model 'run-b'"):
        reg.get("run-b")
    with pytest.raises(ExplorerError, match="shipped model"):
        reg.remove("copy-1")
    with pytest.raises(ExplorerError, match="unknown model"):
        reg.remove("run-b")
    assert reg.version == v0 + 3


def test_re_adding_a_trained_name_replaces_it_and_its_loaded_copy(root, run, weights_root):
    released = []
    reg = ModelRegistry(root, on_evict=lambda: released.append(1))
    reg.add("run", run)
    reg.add("later", run)
    old = reg.get("run")
    assert released == []
    newer = linked_model(weights_root / "fashion-mnist", run.parent.parent / "r1b" / "model")
    reg.add("run", newer)
    assert "run" not in reg.loaded_names() and released == [1]        # its memory handed back
    m = reg.get("run")
    assert m is not old and old.dim == 32 and m.dim == 16 and m.path == newer
    assert reg.names()[-2:] == ["run", "later"]         # replaced in place: the picker does not reorder


def test_add_refuses_a_shipped_name_a_bad_name_and_a_bad_folder(root, run, tmp_path):
    reg = ModelRegistry(root)
    v0 = reg.version
    with pytest.raises(WeightsError, match="'copy-1' clashes with a shipped model"):
        reg.add("copy-1", run)
    for bad in ("", "a,b", "../x", "x" * 101, None):
        with pytest.raises(WeightsError, match="not a model name"):
            reg.add(bad, run)
    incomplete = tmp_path / "incomplete"
    shutil.copytree(run, incomplete, symlinks=True)
    (incomplete / "model.safetensors").unlink()
    with pytest.raises(WeightsError, match="model.safetensors: missing"):
        reg.add("run", incomplete)
    (incomplete / "config.json").unlink()
    (incomplete / "config.json").write_text(json.dumps({"latent_dim": "two", "unknown": 1}))
    with pytest.raises(WeightsError, match="config.json: not a valid config"):
        reg.add("run", incomplete)
    with pytest.raises(WeightsError, match="weights folder not found"):
        reg.add("run", tmp_path / "nowhere")
    with pytest.raises(ValueError, match="source"):
        reg.add("run", run, source="downloaded")
    assert reg.version == v0 and "run" not in reg


# ---------------------------------------------------------------- the page's default model
def test_a_broken_default_is_left_out_and_the_next_model_opens(root, weights_root):
    replace_file(root / "copy-0" / "model.safetensors", b"\0" * 100)
    (root / "fashion-mnist").unlink()
    linked_model(weights_root / "fashion-mnist", root / "fashion-mnist")     # its atlas still serves the others
    replace_file(root / "fashion-mnist" / "model.safetensors", b"\0" * 100)
    reg = ModelRegistry(root)
    m = reg.load_default()
    assert m.name == "copy-1" and reg.default() == "copy-1"
    assert [w.split("'")[1] for w in reg.warnings] == ["fashion-mnist", "copy-0"]
    assert all(w.startswith("skipping model '") and "corrupt or truncated" in w for w in reg.warnings)
    assert "fashion-mnist" not in reg and "copy-0" not in reg and reg.loaded_names() == ["copy-1"]


def test_no_model_loading_is_the_start_up_error(root):
    (root / "fashion-mnist").unlink()
    for name in COPIES:
        shutil.rmtree(root / name)                                # links: the shipped files stay
    (root / "empty").mkdir()                                      # no files at all: left out at start-up
    bad = root / "bad"
    bad.mkdir()
    for name in MODEL_FILES:
        (bad / name).write_bytes(b"{}" if name.endswith(".json") else b"\0" * 10)
    reg = ModelRegistry(root)
    assert reg.names() == ["bad"]
    with pytest.raises(WeightsError, match=r"no usable model under .*: model 'bad': .*model.safetensors: corrupt"):
        reg.load_default()


def test_the_page_builds_with_only_its_default_model_loaded(root, monkeypatch):
    import ui.page

    made = []

    class Watched(ModelRegistry):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            made.append(self)

    monkeypatch.setattr(ui.page, "ModelRegistry", Watched)
    ui.page.build_demo(root)
    assert made[0].loaded_names() == ["fashion-mnist"]
