"""The decoders the page runs (model/store/onnx.py): ONNX files derived from the weights, checked against
torch with onnxruntime (Python), exported once per distinct weights."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from model.store.onnx import OPSET, cached_decoder, export_key, weights_hash

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["fashion-mnist", "fashion-mnist-2d", "emoji", "fashion-mnist-gan"])
def test_onnx_decoder_matches_torch_on_256_random_z(registry, name, exported):
    """The page's decoder is the server's, the GAN's generator included."""
    m = registry.get(name)
    path = exported(name, "decoder")
    graph = onnx.load(str(path))
    assert graph.opset_import[0].version >= OPSET >= 17
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    z = np.random.default_rng(0).standard_normal((256, m.dim)).astype(np.float32)
    ours = session.run(None, {"z": z})[0]                              # dynamic batch: 256 at once
    with torch.inference_mode():
        want = m.vae.decode(torch.from_numpy(z)).numpy()
    assert ours.shape == want.shape == (256, m.config.channels, m.config.image_size, m.config.image_size)
    assert np.abs(ours - want).max() <= 1e-4
    assert session.run(None, {"z": z[:1]})[0].shape[0] == 1


def test_the_cache_is_keyed_by_the_weights(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path / "cache"))
    a, b = registry.get("fashion-mnist"), registry.get("fashion-mnist-2d")
    pa, pb = cached_decoder(a.path, a.vae), cached_decoder(b.path, b.vae)
    assert pa != pb and pa.parent.name == export_key(a.path)
    assert export_key(a.path).startswith(weights_hash(a.path)[:32])        # the weights' hash, then the format
    stamp = pa.stat().st_mtime_ns
    assert cached_decoder(a.path, a.vae) == pa and pa.stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_export_command_writes_a_decoder_and_refuses_a_bad_folder(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "model", "export", str(ROOT / "weights" / "fashion-mnist-2d"),
                         "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0 and (tmp_path / "decoder.onnx").is_file(), ok.stderr
    bad = subprocess.run([sys.executable, "-m", "model", "export", str(tmp_path / "nope")], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and len(bad.stderr.strip().splitlines()) == 1
