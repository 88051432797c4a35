"""Is this image typical? How well each score tells a model's test set from other images.

    python bench/typicality.py [--models fashion-mnist,faces,...] [--n 2000]
    python bench/typicality.py speed [--reps 40] [--folder 1000]     # /typicality against /encode; the folder check

For every shipped model with a likelihood, the ROC AUC of three "how unusual" scores, the model's test images
(negatives) against each other set (positives): the model's own -ELBO (its training objective), the -ELBO of
the 8-bit image (the discretized likelihood, model/analysis/typicality.py), and the complexity-corrected score
(Serrà et al. 2020). 1.0: every other image scores above every test image; 0.5: a coin; below 0.5: fooled.

The other sets, each fitted to the model's input the way an upload is (preprocess_image, auto-invert):
- grey 28x28 models: scikit-learn's digits (all 1,797, upscaled), the faces and the emoji in grey, uniform
  noise, constant images (every grey level), and stroke drawings of digits (made here: jittered pen strokes,
  2-3 px wide, as the sketch pad makes them);
- colour 64x64 models: the other colour set (faces against emoji and back), noise and constant images.
Prints markdown for BENCHMARKS.md and the README.
"""
from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header  # noqa: E402

from model.analysis import typicality as ty  # noqa: E402
from model.data import load_dataset, load_digits, load_faces, preprocess_image, stroke_digits  # noqa: E402
from model.data.intake import emoji_folder  # noqa: E402
from model.store.weights import load_metrics, load_vae  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GREY = ["fashion-mnist", "fashion-mnist-2d", "fashion-mnist-2d-vae", "fashion-mnist-2d-beta4",
        "fashion-mnist-16d-vae", "fashion-mnist-vq"]
COLOUR = ["faces", "faces-beta4", "emoji"]
def auc(neg: np.ndarray, pos: np.ndarray) -> float:
    """P(a random other image scores above a random test image), ties counted half (ROC AUC)."""
    return float(roc_auc_score(np.r_[np.zeros(len(neg)), np.ones(len(pos))], np.r_[neg, pos]))


def as_upload(pictures, size: int, channels: int, background: str) -> np.ndarray:
    """PIL images or uint8 (C, H, W) arrays -> the model's input as an upload gets it."""
    out = []
    for p in pictures:
        if isinstance(p, np.ndarray):
            p = Image.fromarray(p[0] if p.shape[0] == 1 else p.transpose(1, 2, 0))
        out.append(preprocess_image(p, size, channels, background))
    return np.stack(out)


@functools.lru_cache(maxsize=4)
def _others(size: int, channels: int, background: str, n: int) -> dict[str, np.ndarray]:
    """Every other set for one input shape, made once (the grey models share them)."""
    return others(size, channels, background, "", n)


def others(size: int, channels: int, background: str, own: str, n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    sets = {}
    if channels == 1:
        digits = np.concatenate([load_digits(s, 28).images for s in ("train", "test")])
        sets["digits (scikit-learn, upscaled)"] = as_upload(digits, size, 1, background)
        faces = load_faces("test").images[:n]
        sets["faces in grey"] = as_upload(faces, size, 1, background)
        emoji = load_dataset("folder", "test", emoji_folder(), 64, 3).images
        sets["emoji in grey"] = as_upload(emoji, size, 1, background)
        sets["stroke drawings of digits"] = as_upload(stroke_digits(500), size, 1, background)
    else:
        if own != "faces":
            sets["faces (colour)"] = load_faces("test").images[:n]
        if own != "emoji":
            sets["emoji (colour)"] = load_dataset("folder", "test", emoji_folder(), size, 3).images
    sets["uniform noise"] = rng.integers(0, 256, (500, channels, size, size), dtype=np.uint8)
    levels = np.arange(256, dtype=np.uint8)
    sets["constant images"] = np.broadcast_to(levels[:, None, None, None], (256, channels, size, size)).copy()
    return sets


def test_set(name: str, vae, n: int) -> np.ndarray:
    c = vae.config
    dataset = load_metrics(ROOT / "weights" / name).get("dataset", "fashion-mnist")
    data_dir = emoji_folder() if dataset == "folder" else None
    images = load_dataset(dataset, "test", data_dir, c.image_size, c.channels).images
    return images[:n]


def speed(reps: int, folder: int) -> None:
    """/typicality p50 against /encode p50, alternating in one run against one server (target <= 1.5x); and
    the folder check's images/s in-process on Fashion-MNIST test images sent as PNGs (target >= 200/s)."""
    import random
    import tempfile

    from _common import Server, app_cmd, free_port, met, ms, pct, ratio, row
    from gradio_client import Client, handle_file

    from model.serving import typicality as st
    from model.serving.registry import ModelRegistry

    tmp = Path(tempfile.mkdtemp(prefix="bench-typicality-"))
    port = free_port()
    server = Server(app_cmd(port, str(ROOT / "weights")), port, env={"GRADIO_TEMP_DIR": str(tmp / "app")})
    examples = [handle_file(str(e)) for e in sorted((ROOT / "assets" / "examples").glob("drawn-*.png"))]
    times = {"/encode": [], "/typicality": []}
    try:
        server.wait()
        client = Client(server.url, verbose=False, download_files=str(tmp / "client"))
        rng = random.Random(0)
        for rep in range(reps + 3):                             # 3 warm-up rounds, not counted
            for api in rng.sample(list(times), 2):
                t = time.perf_counter()
                client.predict(rng.choice(examples), "fashion-mnist", api_name=api)
                if rep >= 3:
                    times[api].append(time.perf_counter() - t)
    finally:
        server.stop()
    header("Is this image typical? speed", ["figure", "ours", "against", "ratio", "target", "met?"])
    enc, typ = pct(times["/encode"], 50), pct(times["/typicality"], 50)
    row([f"/typicality p50 (p95), gradio_client, fashion-mnist, {reps} calls each, alternating",
         f"{ms(typ)} ({ms(pct(times['/typicality'], 95))})", f"/encode {ms(enc)} ({ms(pct(times['/encode'], 95))})",
         ratio(typ, enc), "<= 1.5x", met(typ / enc, 1.5)])
    m = ModelRegistry(ROOT / "weights").get("fashion-mnist")
    pictures = tmp / "folder"
    pictures.mkdir()
    images = test_set("fashion-mnist", m.vae, folder)
    for i, im in enumerate(images):
        Image.fromarray(im[0]).save(pictures / f"{i:05d}.png")
    torch.set_num_threads(1)                                    # as the server runs a request
    t = time.perf_counter()
    rows, skipped = st.judge_files(m, sorted(str(p) for p in pictures.iterdir()))
    rate = len(rows) / (time.perf_counter() - t)
    row([f"folder check, {folder:,} PNG files of 28x28 (decode, fit, score on two threads of one torch thread "
         "each, sort)",
         f"{rate:,.0f} images/s", "-", "-", ">= 200 images/s", "yes" if rate >= 200 else "**no**"])


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["speed"]:
        p = argparse.ArgumentParser(prog="bench/typicality.py speed")
        p.add_argument("--reps", type=int, default=40)
        p.add_argument("--folder", type=int, default=1000)
        a = p.parse_args(argv[1:])
        speed(a.reps, a.folder)
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(GREY + COLOUR))
    p.add_argument("--n", type=int, default=2000, help="test images per model (and faces per set)")
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    t0 = time.time()
    header("Is this image typical? ROC AUC against each model's test set",
           ["model", "other set", "own -ELBO AUC", "8-bit -ELBO AUC", "corrected score AUC", "target (corrected)"])
    for name in a.models.split(","):
        vae = load_vae(ROOT / "weights" / name)
        ref = load_metrics(ROOT / "weights" / name).get("typicality")
        if not ref:
            print(f"| {name} | no stored typicality: run `python -m model evaluate weights/{name} --typicality` |")
            continue
        c = vae.config
        mine = ty.scores(vae, test_set(name, vae, a.n), ref["scale"])
        sets = {k: v for k, v in _others(c.image_size, c.channels, c.background, a.n).items()
                if not k.startswith(name.split("-")[0])}                 # not a model's own kind of picture
        for other, images in sets.items():
            s = ty.scores(vae, images, ref["scale"])
            a_own, a_raw, a_cor = (auc(mine[k], s[k]) for k in ("elbo", "neg_elbo", "score"))
            met = "yes" if a_cor >= 0.95 else "**no**"
            print(f"| {name} | {other} ({len(images):,}) | {a_own:.3f} | {a_raw:.3f} | {a_cor:.3f} | >= 0.95: {met} |",
                  flush=True)
    print(f"\n(run time {time.time() - t0:.0f} s; each model's first {a.n:,} test images are the negatives)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
