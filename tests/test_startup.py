"""Start-up and weights: a missing, empty, corrupt or mismatched weights folder makes
`python app.py` exit non-zero with ONE line saying what is wrong and how to fix it; one bad model
among good ones is left out of the picker with a warning; nothing is ever unpickled."""
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
MODEL_FILES = ("config.json", "model.safetensors", "atlas.npz", "metrics.json")


def good_models(weights_root: Path) -> list[Path]:
    dirs = [d for d in sorted(weights_root.iterdir()) if (d / "config.json").is_file()
            and (d / "model.safetensors").is_file() and (d / "atlas.npz").is_file()]
    assert dirs, f"no exported model under {weights_root}"
    return dirs


def copy_model(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for name in MODEL_FILES:
        if (src / name).is_file():
            shutil.copy(src / name, dst / name)
    return dst


class Boom:
    """Unpickling this creates a folder: proof that a pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def poison_atlas(folder: Path, marker: Path) -> None:
    """atlas.npz whose 'mu' is an object array holding a pickle that runs code when loaded."""
    with np.load(folder / "atlas.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["mu"] = np.array([Boom(marker)], dtype=object)
    np.savez(folder / "atlas.npz", **arrays)               # allow_pickle defaults to True when saving


def poison_weights(folder: Path, marker: Path) -> None:
    """model.safetensors that is really a pickle stream (what torch.save writes, minus the zip)."""
    (folder / "model.safetensors").write_bytes(pickle.dumps({"state": Boom(marker)}))


def start(weights, *extra) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--weights", str(weights),
                             "--port", str(free_port()), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONWARNINGS": "ignore"})


# ---------------------------------------------------------------- fatal: exit with one line
@pytest.fixture(scope="module")
def broken_roots(weights_root, tmp_path_factory):
    base = tmp_path_factory.mktemp("roots")
    src = good_models(weights_root)[0]
    (base / "empty").mkdir()
    (base / "only-junk" / "notes").mkdir(parents=True)                  # a folder, but no model in it
    (base / "only-junk" / "notes" / "readme.txt").write_text("hello")
    corrupt = copy_model(src, base / "corrupt" / src.name)
    data = (corrupt / "model.safetensors").read_bytes()
    (corrupt / "model.safetensors").write_bytes(data[: len(data) // 3])
    mismatch = copy_model(src, base / "mismatch" / src.name)
    cfg = json.loads((mismatch / "config.json").read_text())
    cfg["latent_dim"] = cfg["latent_dim"] * 2
    (mismatch / "config.json").write_text(json.dumps(cfg))
    return {"missing": base / "does-not-exist", "empty": base / "empty", "only-junk": base / "only-junk",
            "corrupt": base / "corrupt", "mismatch": base / "mismatch"}


EXPECT = {   # what is wrong, and how to fix it
    "missing": ("weights folder not found", "--weights"),
    "empty": ("no model folders", "python -m model train"),
    "only-junk": ("config.json: missing", "python -m model train"),
    "corrupt": ("corrupt or truncated safetensors", "retrain"),
    "mismatch": ("does not match config.json (size mismatch", "retrain"),
}


def check_one_line(case: str, root: Path, rc: int, err: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, (case, rc, err[-2000:])
    assert len(lines) == 1, (case, err)
    what, fix = EXPECT[case]
    assert lines[0].startswith("error: ") and what in lines[0] and fix in lines[0], (case, lines[0])
    assert str(root) in lines[0]                                      # names the folder
    assert "Traceback" not in err


@pytest.mark.slow
def test_app_py_exits_with_one_line(broken_roots):
    """The real entry point, as a user runs it (one process: each start imports torch and gradio)."""
    proc = start(broken_roots["corrupt"])
    try:
        out, err = proc.communicate(timeout=180)
    finally:
        proc.kill()
    check_one_line("corrupt", broken_roots["corrupt"], proc.returncode, err)
    assert "Running on" not in out                                    # never a half-working page


@pytest.mark.parametrize("case", list(EXPECT))
def test_bad_weights_folder_exits_with_one_line(case, broken_roots, capsys, monkeypatch):
    """Every case through app.main, the function `python app.py` runs; nothing is launched."""
    import app

    monkeypatch.setattr(app, "launch", lambda *a, **k: pytest.fail("launched with bad weights"))
    capsys.readouterr()
    rc = app.main(["--weights", str(broken_roots[case]), "--port", str(free_port())])
    check_one_line(case, broken_roots[case], rc, capsys.readouterr().err)


def test_malformed_auth_exits_with_one_line(capsys):
    import app

    assert app.main(["--auth", "no-colon-here", "--weights", "/nonexistent"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --auth must look like user:password"]


# ---------------------------------------------------------------- one bad model among good ones
def test_bad_models_left_out_of_the_picker_with_a_warning(weights_root, tmp_path, capsys):
    """A folder lacking a file is left out at start-up with a warning; one whose files are there but corrupt
    (start-up reads no weights or atlas) stays in the picker and fails on first use, with one line
    naming the model and the file, while the others serve on."""
    import gradio as gr

    import app
    from model.serving.registry import ModelRegistry
    from model.store.weights import WeightsError

    goods = good_models(weights_root)
    for d in goods:
        copy_model(d, tmp_path / d.name)
    src = goods[0]
    broken = copy_model(src, tmp_path / "zz-broken")
    (broken / "model.safetensors").write_bytes(b"\0" * 100)
    no_atlas = copy_model(src, tmp_path / "zz-no-atlas")
    (no_atlas / "atlas.npz").unlink()
    wrong_atlas = copy_model(src, tmp_path / "zz-wrong-atlas")
    with np.load(src / "atlas.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["mu"] = arrays["mu"][:, :1]                                  # another model's atlas
    np.savez(wrong_atlas / "atlas.npz", **arrays)
    marker = tmp_path / "PWNED"
    pickled = copy_model(src, tmp_path / "zz-pickled-atlas")
    poison_atlas(pickled, marker)
    (tmp_path / ".hidden").mkdir()

    capsys.readouterr()
    demo = app.build_demo(tmp_path)
    err = capsys.readouterr().err
    picker = next(b for b in demo.blocks.values() if isinstance(b, gr.Dropdown) and b.label == "Model")
    choices = [c[1] if isinstance(c, (list, tuple)) else c for c in picker.choices]
    late = ["zz-broken", "zz-pickled-atlas", "zz-wrong-atlas"]
    assert choices == [d.name for d in goods] + late
    assert picker.value in choices
    line = next((ln for ln in err.splitlines() if "skipping model 'zz-no-atlas'" in ln), None)
    assert line and line.startswith("warning: ") and "atlas.npz: missing" in line, err
    assert ".hidden" not in err and not any(f"'{bad}'" in err for bad in late)
    registry = ModelRegistry(tmp_path)
    for bad, file, why in (("zz-broken", "model.safetensors", "corrupt or truncated safetensors"),
                           ("zz-wrong-atlas", "atlas.npz", "atlas.npz: holds means of shape"),
                           ("zz-pickled-atlas", "atlas.npz", "corrupt atlas")):
        with pytest.raises(WeightsError) as info:
            registry.get(bad)
        msg = str(info.value)
        assert msg.startswith(f"model '{bad}': ") and str(tmp_path / bad / file) in msg and why in msg, msg
    assert registry.get(goods[-1].name).name == goods[-1].name
    assert not marker.exists()


# ---------------------------------------------------------------- pickle is never loaded
def test_pickles_are_refused_and_never_unpickled(weights_root, tmp_path):
    """Poisoned atlas.npz (object array) and a pickle posing as model.safetensors: both refused
    with a message, the payload never runs, and no unpickling happens at all (audit hook)."""
    from model.serving.registry import ModelRegistry
    from model.store.weights import WeightsError, load_atlas, load_vae

    src = good_models(weights_root)[0]
    marker = tmp_path / "PWNED"
    a = copy_model(src, tmp_path / "root" / "atlas-pickle")
    poison_atlas(a, marker)
    w = copy_model(src, tmp_path / "root" / "weights-pickle")
    poison_weights(w, marker)

    unpickled, active = [], [True]

    def hook(event, args):
        if active[0] and event == "pickle.find_class":
            unpickled.append(args)

    sys.addaudithook(hook)             # cannot be removed: it goes quiet when active[0] is False
    try:
        with pytest.raises(WeightsError, match="corrupt atlas"):
            load_atlas(a)
        with pytest.raises(WeightsError, match="corrupt or truncated safetensors"):
            load_vae(w)
        with pytest.raises(WeightsError, match="no usable model"):
            ModelRegistry(tmp_path / "root").load_default()        # start-up reads neither file; the page's load does
    finally:
        active[0] = False
    assert unpickled == [] and not marker.exists()
    pickle.loads((w / "model.safetensors").read_bytes())     # the check can fail: unpickled, it runs
    assert marker.exists()
