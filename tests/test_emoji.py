"""The emoji data set builder and the shipped colour model."""
import csv
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from model.data.emoji import NOTO_EMOJI, build_emoji_dataset, group_of

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = Path(os.environ.get("VAE_WEIGHTS", ROOT / "weights"))
EMOJI_EXAMPLES = sorted((ROOT / "assets" / "examples" / "emoji").glob("*.png"))


def test_groups_follow_unicode_names():
    assert group_of(0x1F600, "GRINNING FACE") == "faces"
    assert group_of(0x1F431, "CAT FACE") == "animals & nature"     # the range wins over "FACE"
    assert group_of(0x1F355, "SLICE OF PIZZA") == "food & drink"
    assert group_of(0x1F550, "CLOCK FACE ONE OCLOCK") == "objects"


@pytest.mark.skipif(not NOTO_EMOJI.is_file(), reason="needs Debian's fonts-noto-color-emoji")
@pytest.mark.slow
def test_builder_makes_distinct_labelled_colour_images(tmp_path):
    n = build_emoji_dataset(tmp_path / "emoji")
    assert n > 1000                                   # the font has ~1,400 single-code-point emoji
    rows = list(csv.DictReader(open(tmp_path / "emoji" / "labels.csv")))
    assert len(rows) == n
    groups = {r["group"] for r in rows}
    assert {"faces", "animals & nature", "food & drink"} <= groups
    names = {r["name"] for r in rows}
    assert "GRINNING FACE" in names and "CAT FACE" in names
    sample = rows[:: max(1, n // 40)]
    arrays = []
    for r in sample:
        img = Image.open(tmp_path / "emoji" / r["file"])
        assert img.size == (64, 64) and img.mode == "RGB"
        a = np.asarray(img)
        assert (a < 250).any(axis=2).mean() > 0.05        # not empty: real ink on the white square
        assert a[0, 0].tolist() == [255, 255, 255]      # white background
        arrays.append(a.tobytes())
    assert len(set(arrays)) == len(arrays)               # distinct images


def test_shipped_emoji_model_reconstructs_emoji():
    """Reconstructions resemble the input: mean squared error (pixels in [0, 1]) below 0.02,
    i.e. an RMS error of 0.14 per channel; a model that outputs the mean emoji scores ~0.10."""
    from model import load_vae
    from model.data import preprocess_image

    vae = load_vae(WEIGHTS / "emoji")
    assert vae.config.channels == 3 and vae.config.image_size == 64
    x = torch.stack([torch.from_numpy(preprocess_image(p, 64, 3, "white")).float() / 255 for p in EMOJI_EXAMPLES])
    with torch.inference_mode():
        mu, _ = vae.encode(x)
        x_hat = vae.decode(mu)
    mse = ((x_hat - x) ** 2).mean(dim=(1, 2, 3))
    baseline = ((x - x.mean(0, keepdim=True)) ** 2).mean(dim=(1, 2, 3))
    assert mse.max().item() < 0.02, mse.tolist()
    assert (mse < baseline).all()


def test_figure_command_draws_every_row_and_reports_the_same_errors(tmp_path, capsys):
    """`python -m model figure` (the README's emoji picture): 4 rows of crisp 128 px tiles (64 px
    images at 2x), and per-image errors that agree with the reconstruction test above."""
    from model.serving.results_figure import main

    pair = [str(EMOJI_EXAMPLES[0]), str(EMOJI_EXAMPLES[1])]
    out = tmp_path / "fig.png"
    assert main([str(WEIGHTS / "emoji"), *map(str, EMOJI_EXAMPLES[:3]), "--pair", *pair, "--out", str(out)]) == 0
    fig = np.asarray(Image.open(out).convert("RGB"))
    assert fig.shape[1] == 8 * (128 + 4) + 4                        # 8 frames / samples per row
    assert fig.shape[0] == 4 * (128 + 16 + 4) + 4                   # input, reconstruction, walk, samples
    tile = fig[4 + 16:4 + 16 + 128, 4:4 + 128]                      # first input, upscaled 2x nearest
    assert (tile[0::2, 0::2] == tile[1::2, 1::2]).all()
    lines = [line for line in capsys.readouterr().out.splitlines() if "MSE" in line]
    assert len(lines) == 3 and all(float(line.split()[-1]) < 0.02 for line in lines)
    assert main([str(WEIGHTS / "emoji"), str(tmp_path / "missing.png"), "--out", str(out)]) == 2
