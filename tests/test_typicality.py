"""Is this image typical? The scores, their percentiles against the stored test distribution,
the verdicts, the anomaly map and the folder check, on the shipped Fashion-MNIST model."""
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from model.analysis import typicality as ty
from model.data import load_fashion_mnist
from model.nets.limits import ExplorerError
from model.serving import typicality as st

ROOT = Path(__file__).resolve().parents[1]
MODEL = "fashion-mnist"


@pytest.fixture(scope="module")
def m(registry):
    return registry.get(MODEL)


@pytest.fixture(scope="module")
def test_images():
    return load_fashion_mnist("test").images


def test_complexity_is_the_lossless_webp_length_in_nats():
    blank = np.zeros((1, 1, 28, 28), np.uint8)
    noise = np.random.default_rng(0).integers(0, 256, (1, 1, 28, 28), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise[0, 0]).save(buf, format="WEBP", lossless=True, quality=100, method=6)
    assert ty.complexity_nats(noise)[0] == pytest.approx(8 * len(buf.getvalue()) * np.log(2))
    assert ty.complexity_nats(blank)[0] < ty.complexity_nats(noise)[0] / 5


def test_the_same_pixels_give_the_same_numbers(m, test_images):
    a = st.judge_pixels(m, test_images[7], heat=False)
    b = st.judge_pixels(m, test_images[7].copy(), heat=False)
    assert a == b


def test_a_test_images_percentile_is_near_its_rank_in_the_stored_distribution(m, test_images):
    ref = st.reference(m)
    s = ty.scores(m.vae, test_images[:400], ref["scale"], own=False)   # the test set the quantiles came from
    for key, quantiles in (("neg_elbo", ref["neg_elbo_quantiles"]), ("score", ref["score_quantiles"])):
        pct = np.array([ty.percentile(v, quantiles) for v in s[key]])
        rank = np.array([(s[key] < v).mean() * 100 for v in s[key]])   # the rank among these 400
        assert np.abs(pct - rank).mean() < 6, key                      # 400 of the 10,000: close, not equal


def test_percentile_reads_the_share_below():
    q = np.linspace(0, 100, ty.N_QUANTILES)
    assert ty.percentile(-5, q) == 0 and ty.percentile(500, q) == 100
    assert ty.percentile(25.0, q) == pytest.approx(25.0)


def test_the_corrected_score_calls_noise_and_blank_unusual_where_the_likelihood_is_fooled_by_the_blank(m):
    """Nalisnick et al. (2019): by the tighter bound (IWAE) a blank image is more likely than most clothes;
    Serrà et al.'s correction calls it unusual. (Our ELBO is loose on the blank and happens to flag it.)"""
    blank = np.zeros((1, 28, 28), np.uint8)
    noise = np.random.default_rng(1).integers(0, 256, (1, 28, 28), dtype=np.uint8)
    b, n = st.judge_pixels(m, blank, heat=False), st.judge_pixels(m, noise, heat=False)
    assert b["score_percentile"] >= 99 and n["score_percentile"] >= 99
    assert b["iwae_percentile"] < 50                               # the likelihood is fooled by the blank
    assert n["iwae_percentile"] >= 99 and n["neg_elbo_percentile"] >= 99     # but not by noise
    assert "fooled" in b["why"] and "Nalisnick" in b["why"] and b["words"].startswith("very unusual")


def test_a_test_image_is_typical(m, test_images):
    r = st.judge_pixels(m, test_images[3], heat=False)
    assert r["score_percentile"] < 95 and r["verdict"].startswith("typical")
    assert r["iwae"] <= r["neg_elbo"] + 1e-3                      # the tighter bound is no larger


def test_the_anomaly_map_is_highest_where_a_patch_was_pasted(m, test_images):
    x8 = test_images[11].copy()
    x8[0, 2:9, 2:9] = 255 - x8[0, 2:9, 2:9] // 4                  # a bright square in the corner
    nll = st.judge_pixels(m, x8)["map"]
    inside = np.zeros((28, 28), bool)
    inside[2:9, 2:9] = True
    top = np.argsort(nll.reshape(-1))[::-1][:inside.sum()]          # as many of the worst pixels as the patch has
    assert inside.reshape(-1)[top].mean() > 0.6
    assert nll[inside].mean() > 3 * nll[~inside].mean()
    img = st.heat_image(m, x8, nll)
    assert img.width == 280 and img.height > 280                     # the map and its legend


def test_an_autoencoder_has_no_likelihood_and_says_so(registry):
    with pytest.raises(ExplorerError, match="no KL term, so no ELBO"):
        st.reference(registry.get("fashion-mnist-2d-ae"))


def test_the_folder_check_scores_the_rest_and_lists_three_bad_files(m, test_images, tmp_path):
    z = tmp_path / "mixed.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for i in range(12):
            buf = io.BytesIO()
            Image.fromarray(test_images[i, 0]).save(buf, format="PNG")
            zf.writestr(f"clothes/{i:02d}.png", buf.getvalue())
        zf.writestr("bad/notes.png", b"not a picture at all")
        zf.writestr("bad/truncated.png", b"\x89PNG\r\n\x1a\n\x00\x00")
        zf.writestr("bad/empty.jpg", b"")
    blank = tmp_path / "blank.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(blank)
    rows, skipped = st.judge_files(m, [str(z), str(blank)])
    assert len(rows) == 13 and len(skipped) == 3
    assert {name for name, _ in skipped} == {"mixed.zip/bad/notes.png", "mixed.zip/bad/truncated.png",
                                             "mixed.zip/bad/empty.jpg"}
    assert rows[0]["file"] == "blank.png"                            # least typical first
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    text = st.csv_bytes(rows, skipped).decode()
    assert text.splitlines()[1].startswith("blank.png,") and text.count("\n") == 1 + 13 + 3


def test_every_shipped_model_with_a_likelihood_stores_its_test_distribution(registry):
    for entry in registry.entries():
        if entry.source != "shipped":
            continue
        ref = entry.metrics.get("typicality")
        if entry.kind in ("ae", "gan"):                       # no KL term, or no encoder: no likelihood
            assert ref is None, entry.name
            continue
        assert ref and len(ref["score_quantiles"]) == ty.N_QUANTILES, entry.name
        assert ref["scale"] in [round(float(s), 5) for s in ty.SCALES], entry.name
        assert np.all(np.diff(ref["neg_elbo_quantiles"]) >= 0), entry.name
        assert (len(ref.get("iwae_quantiles", [])) == ty.N_QUANTILES) == (entry.kind == "vae"), entry.name


def test_the_eight_bit_bound_is_a_likelihood_of_the_bytes(m, test_images):
    """Summed over all 256 grey levels of one pixel, the discretized logistic's probabilities make 1."""
    mean = torch.full((256, 1, 1, 1), 0.3)
    levels = torch.arange(256, dtype=torch.float32).view(256, 1, 1, 1)
    p = torch.exp(-ty.discrete_nll(levels, mean, 0.05))
    assert p.sum().item() == pytest.approx(1.0, abs=1e-4)
