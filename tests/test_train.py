"""`python -m model train` and `python -m model evaluate` on scikit-learn's digits with a tiny
network: the loss goes down, runs are reproducible, `--resume` (after an exception or `kill -9`)
ends where an uninterrupted run does, a NaN/inf loss or a failed checkpoint write loses nothing,
and the weights folder holds what the app needs.

Most runs are in-process (`model.train.main(argv)`): the same code path as the command line
without paying for a fresh interpreter; the `kill -9` and `model.evaluate` tests use real
subprocesses."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from model.data import load_digits
from model.nets.vae import ConvVAE
from model.store import weights as mio
from model.store.weights import load_atlas, load_metrics, load_vae
from model.training import checkpoints as mckpt
from model.training import evaluate as meval
from model.training import loop as mtrain

pytestmark = pytest.mark.slow          # trains small models

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 2
FAST = ["--dataset", "digits", "--threads", "1", "--widths", "8,16", "--hidden", "32",
        "--res-blocks", "0", "--latent-dim", "4", "--batch-size", "32", "--map", "pca",
        "--iwae-k", "5", "--seed", "3"]
STEPS_PER_EPOCH = 1437 // 32          # digits' training split / batch
ATLAS_KEYS = {"mu", "logvar", "labels", "class_names", "xy", "map_method", "kl_per_dim",
              "thumb_index", "thumbnails"}
METRIC_KEYS = {"test_neg_elbo", "test_recon", "test_kl", "test_iwae_nll", "iwae_k", "active_units",
               "epochs", "seconds", "images_per_second", "device"}


def argv(out, *extra, epochs=EPOCHS):
    return FAST + ["--epochs", str(epochs), "--out", str(out), *extra]


def run(out, *extra, epochs=EPOCHS) -> int:
    return mtrain.main(argv(out, *extra, epochs=epochs))


def tensors(path) -> dict:
    return load_file(str(path))


def same_tensors(a, b) -> bool:
    ta, tb = tensors(a), tensors(b)
    return ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)


def checkpoint_meta(path) -> dict:
    with safe_open(str(path), framework="pt") as f:
        return json.loads(f.metadata()["meta"])


def losses(history):
    """The per-epoch numbers that must be reproducible (not wall-clock time)."""
    keys = ("train_neg_elbo", "train_recon", "train_kl", "test_neg_elbo", "test_recon", "test_kl")
    return [[h[k] for k in keys] for h in history]


@pytest.fixture(scope="module", autouse=True)
def _restore_threads():
    n = torch.get_num_threads()        # in-process runs set --threads 1
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    """One uninterrupted run: the reference every other run is compared with."""
    out = tmp_path_factory.mktemp("baseline") / "w"
    assert run(out) == 0
    return out


@pytest.fixture
def record_checkpoints(monkeypatch):
    """Wrap save_checkpoint: remember the bytes of every checkpoint written."""
    saved = []
    real = mtrain.save_checkpoint

    def wrapper(path, model, opt, meta):
        real(path, model, opt, meta)
        saved.append((meta["epoch"], Path(path).read_bytes()))

    monkeypatch.setattr(mtrain, "save_checkpoint", wrapper)
    return saved


# ---------------------------------------------------------------- learning and reproducibility
def test_two_epochs_lower_the_test_loss(baseline):
    hist = checkpoint_meta(baseline / "checkpoint.safetensors")["history"]
    assert [h["epoch"] for h in hist] == [1, 2]
    assert hist[1]["test_neg_elbo"] < hist[0]["test_neg_elbo"] - 5, hist
    assert hist[1]["train_neg_elbo"] < hist[0]["train_neg_elbo"], hist
    assert all(np.isfinite(v) for h in hist for v in h.values())
    # a model that learned beats the untrained one by a wide margin on the same test images
    torch.manual_seed(0)
    untrained = ConvVAE(load_vae(baseline).config).eval()
    test = load_digits("test")
    m0 = meval.compute_metrics(untrained, test, iwae_k=1, iwae_n=10)
    assert load_metrics(baseline)["test_neg_elbo"] < m0["test_neg_elbo"] - 20


def test_training_prints_per_epoch_losses(tmp_path, capsys):
    assert run(tmp_path / "w", epochs=1) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("epoch"))
    for word in ("train -ELBO", "test -ELBO", "recon", "KL"):
        assert word in line, line
    assert "wrote" in out


def test_same_seed_same_result(baseline, tmp_path):
    assert run(tmp_path / "again") == 0
    assert same_tensors(baseline / "model.safetensors", tmp_path / "again" / "model.safetensors")
    a = checkpoint_meta(baseline / "checkpoint.safetensors")["history"]
    b = checkpoint_meta(tmp_path / "again" / "checkpoint.safetensors")["history"]
    assert losses(a) == losses(b)
    ma, mb = load_metrics(baseline), load_metrics(tmp_path / "again")
    for k in ("test_neg_elbo", "test_recon", "test_kl", "test_iwae_nll", "active_units", "kl_per_dim"):
        assert ma[k] == mb[k], k


def test_interrupted_then_resumed_ends_with_identical_weights(baseline, tmp_path, monkeypatch, capsys):
    real = mtrain.save_checkpoint

    def save_then_interrupt(path, model, opt, meta):
        real(path, model, opt, meta)
        if meta["epoch"] == 1:
            raise KeyboardInterrupt                       # Ctrl-C right after epoch 1

    monkeypatch.setattr(mtrain, "save_checkpoint", save_then_interrupt)
    out = tmp_path / "w"
    assert run(out) == 130
    assert "--resume" in capsys.readouterr().err
    assert checkpoint_meta(out / "checkpoint.safetensors")["epoch"] == 1
    assert not (out / "model.safetensors").exists()
    monkeypatch.undo()

    assert run(out, "--resume") == 0
    assert "resuming from" in capsys.readouterr().out
    assert same_tensors(baseline / "model.safetensors", out / "model.safetensors")
    assert same_tensors(baseline / "checkpoint.safetensors", out / "checkpoint.safetensors")   # + Adam state
    assert losses(checkpoint_meta(out / "checkpoint.safetensors")["history"]) == \
        losses(checkpoint_meta(baseline / "checkpoint.safetensors")["history"])
    assert load_metrics(out)["test_neg_elbo"] == load_metrics(baseline)["test_neg_elbo"]


def test_resume_with_other_arguments_is_refused(baseline, tmp_path, capsys):
    out = tmp_path / "w"
    shutil.copytree(baseline, out)
    bad = [a if a != "8,16" else "8,8" for a in argv(out, "--resume")]        # other widths
    assert mtrain.main(bad) == 2
    err = capsys.readouterr().err
    assert "checkpoint.safetensors" in err and len(err.strip().splitlines()) == 1


def test_resume_from_a_corrupt_checkpoint_says_so(tmp_path, capsys):
    out = tmp_path / "w"
    out.mkdir()
    (out / "checkpoint.safetensors").write_bytes(b"\x00" * 100)
    assert run(out, "--resume") == 2
    err = capsys.readouterr().err
    assert "checkpoint.safetensors" in err and "unreadable" in err


def test_kill_9_mid_epoch_then_resume_matches_uninterrupted(baseline, tmp_path):
    out = tmp_path / "w"
    ckpt = out / "checkpoint.safetensors"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "model", "train", *argv(out)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ckpt.exists(), f"no checkpoint appeared (exit code {proc.poll()})"
        os.kill(proc.pid, signal.SIGKILL)                   # in the middle of epoch 2
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert checkpoint_meta(ckpt)["epoch"] == 1, "the kill did not land in epoch 2"
    assert not (out / "model.safetensors").exists()

    assert run(out, "--resume") == 0
    hist = checkpoint_meta(ckpt)["history"]
    ref = checkpoint_meta(baseline / "checkpoint.safetensors")["history"]
    assert [h["epoch"] for h in hist] == [1, 2]
    # every draw is seeded from (seed, epoch, rank), so the resumed run is the same run: the
    # numbers agree to float precision (measured: bit-identical); 0.01 nats leaves room for
    # thread scheduling, far below the ~60 nats one epoch changes.
    assert np.allclose(losses(hist), losses(ref), atol=0.01)
    m, mref = load_metrics(out), load_metrics(baseline)
    for k in ("test_neg_elbo", "test_recon", "test_kl", "test_iwae_nll"):
        assert abs(m[k] - mref[k]) < 0.01, (k, m[k], mref[k])


# ---------------------------------------------------------------- faults
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(
        bad, baseline, tmp_path, monkeypatch, capsys, record_checkpoints):
    real = mtrain.elbo_terms
    calls = {"train": 0}

    def poisoned(vae, x, *a, **k):
        t = real(vae, x, *a, **k)
        if not isinstance(vae, ConvVAE):                   # the training step (eval passes the bare model)
            calls["train"] += 1
            if calls["train"] == STEPS_PER_EPOCH + 3:      # epoch 2, step 3
                t = {key: v * bad for key, v in t.items()}
        return t

    monkeypatch.setattr(mtrain, "elbo_terms", poisoned)
    out = tmp_path / "w"
    assert run(out) == 2
    err = capsys.readouterr().err
    line = next(ln for ln in err.splitlines() if ln.startswith("error:"))
    assert f"loss became {bad}" in line and "epoch 2, step 3" in line, line
    assert str(out / "checkpoint.safetensors") in line and "intact" in line
    # the checkpoint on disk is exactly the one written after epoch 1, with finite weights
    assert [e for e, _ in record_checkpoints] == [1]
    assert (out / "checkpoint.safetensors").read_bytes() == record_checkpoints[0][1]
    assert all(torch.isfinite(v).all() for v in tensors(out / "checkpoint.safetensors").values())
    assert not (out / "model.safetensors").exists()
    if np.isnan(bad):
        # and it really is good: resuming from it reaches the uninterrupted run's weights
        monkeypatch.setattr(mtrain, "elbo_terms", real)
        assert run(out, "--resume") == 0
        assert same_tensors(baseline / "model.safetensors", out / "model.safetensors")


@pytest.mark.parametrize("where", ["save_file", "os.replace"])
def test_failure_while_writing_a_checkpoint_keeps_the_previous_one(where, tmp_path, monkeypatch,
                                                                   record_checkpoints, capsys):
    out = tmp_path / "w"
    if where == "save_file":
        real = mckpt.save_file

        def failing(tensors, filename, metadata=None):
            if record_checkpoints:                         # the second checkpoint: half-written
                Path(filename).write_bytes(b"\x00" * 1000)
                raise OSError(28, "No space left on device (simulated)")
            return real(tensors, filename, metadata=metadata)

        monkeypatch.setattr(mckpt, "save_file", failing)
    else:
        real = os.replace

        def failing(src, dst):
            if record_checkpoints and Path(dst).name == "checkpoint.safetensors":
                raise OSError(5, "I/O error during rename (simulated)")
            return real(src, dst)

        monkeypatch.setattr(mio.os, "replace", failing)

    assert run(out) == 2                                   # one line, not a traceback
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith(("error", "Traceback"))]
    assert len(err) == 1 and "simulated" in err[0] and "--resume" in err[0], err   # not a traceback
    monkeypatch.undo()
    assert [e for e, _ in record_checkpoints] == [1]
    assert (out / "checkpoint.safetensors").read_bytes() == record_checkpoints[0][1]
    assert sorted(os.listdir(out)) == ["checkpoint.safetensors"], os.listdir(out)   # no temp file
    model = ConvVAE(mtrain.build_config(mtrain.parse_args(argv(out)), tuple(str(i) for i in range(10)), 28, 1))
    opt = torch.optim.Adam(model.parameters())
    assert mtrain.load_checkpoint(out / "checkpoint.safetensors", model, opt)["epoch"] == 1


def test_resume_removes_temp_files_left_by_a_killed_write(baseline, tmp_path):
    out = tmp_path / "w"
    out.mkdir()
    shutil.copy(baseline / "checkpoint.safetensors", out / "checkpoint.safetensors")
    stale = out / ".checkpoint.safetensors.abc123.tmp"       # what kill -9 mid-write leaves
    stale.write_bytes(b"\x00" * 100)
    assert run(out, "--resume") == 0
    assert not stale.exists()
    assert same_tensors(baseline / "model.safetensors", out / "model.safetensors")


# ---------------------------------------------------------------- the weights folder
def test_weights_folder_contents(baseline):
    names = set(os.listdir(baseline))
    assert {"config.json", "model.safetensors", "atlas.npz", "metrics.json"} <= names
    assert not [n for n in names if n.endswith(".tmp") or n.startswith(".")], names
    vae = load_vae(baseline)
    cfg = vae.config
    assert (cfg.latent_dim, cfg.widths, cfg.image_size, cfg.channels) == (4, (8, 16), 28, 1)
    assert cfg.class_names == tuple(str(i) for i in range(10))
    assert all(t.dtype == torch.float16 for t in tensors(baseline / "model.safetensors").values())

    test = load_digits("test")
    n = len(test)
    atlas = load_atlas(baseline)
    assert ATLAS_KEYS <= set(atlas), set(atlas)
    assert atlas["mu"].shape == atlas["logvar"].shape == (n, 4)
    assert atlas["xy"].shape == (n, 2) and np.isfinite(atlas["xy"]).all()
    assert np.array_equal(atlas["labels"], test.labels)
    assert tuple(atlas["class_names"]) == cfg.class_names
    assert str(atlas["map_method"]) == "pca"
    assert atlas["thumbnails"].dtype == np.uint8 and atlas["thumbnails"].shape[1:] == (1, 28, 28)
    assert len(atlas["thumbnails"]) == len(atlas["thumb_index"]) == min(3000, n)
    assert np.array_equal(atlas["thumbnails"], test.images[atlas["thumb_index"]])
    # the stored means are the shipped model's encoding of the test split
    with torch.no_grad():
        mu, lv = vae.encode(torch.from_numpy(test.images).float() / 255)
    assert np.allclose(atlas["mu"], mu.numpy(), atol=1e-4)
    kl = 0.5 * (atlas["mu"] ** 2 + np.exp(atlas["logvar"]) - 1 - atlas["logvar"])
    assert np.allclose(atlas["kl_per_dim"], kl.mean(0), rtol=1e-4, atol=1e-5)

    m = load_metrics(baseline)
    assert METRIC_KEYS <= set(m), METRIC_KEYS - set(m)
    assert m["epochs"] == EPOCHS and m["iwae_k"] == 5 and m["device"] == "cpu"
    assert m["test_images"] == n and m["seconds"] > 0 and m["images_per_second"] > 0
    assert abs(m["test_neg_elbo"] - (m["test_recon"] + m["test_kl"])) < 0.01
    assert 0 <= m["active_units"] <= 4
    assert np.allclose(m["kl_per_dim"], atlas["kl_per_dim"], atol=1e-3)
    # the importance-weighted bound is at least as tight as the ELBO
    assert m["test_iwae_nll"] <= m["test_neg_elbo"] + 0.5
    # the exported (float16) model scores what the last epoch measured in float32
    last = checkpoint_meta(baseline / "checkpoint.safetensors")["history"][-1]
    assert abs(m["test_neg_elbo"] - last["test_neg_elbo"]) < 0.01 * last["test_neg_elbo"]


def test_evaluate_command_prints_and_updates_metrics(baseline, tmp_path):
    d = tmp_path / "w"
    shutil.copytree(baseline, d)
    before = load_metrics(d)
    stale = dict(before, test_neg_elbo=-1.0, iwae_k=1, note="kept")
    (d / "metrics.json").write_text(json.dumps(stale))
    p = subprocess.run([sys.executable, "-m", "model", "evaluate", str(d), "--iwae-k", "7", "--iwae-n", "40",
                        "--seed", "3"],
                       cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    printed = json.loads(p.stdout)
    after = load_metrics(d)
    assert printed["iwae_k"] == after["iwae_k"] == 7 and after["iwae_images"] == 40
    assert printed["test_neg_elbo"] == after["test_neg_elbo"] == before["test_neg_elbo"]   # same seed
    assert after["note"] == "kept" and after["epochs"] == EPOCHS                         # updated, not replaced
    assert after["test_iwae_nll"] <= after["test_neg_elbo"] + 0.5


def test_evaluate_on_a_broken_folder_is_one_line(tmp_path, capsys):
    (tmp_path / "w").mkdir()
    assert meval.main([str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "config.json" in err and len(err.splitlines()) == 1
