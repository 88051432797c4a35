"""The faces data set: deterministic by seed, factors recorded with the images and true to
what was drawn, the mouth measured back from pixels; and the shipped faces models against it."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.data import DATASETS, DataError, load_dataset
from model.data.faces import (
    FACTORS,
    build_faces,
    draw_face,
    make_faces,
    mouth_curvature,
    read_faces,
    render,
    sample_factors,
)

ROOT = Path(__file__).resolve().parents[1]
NEUTRAL = dict.fromkeys(FACTORS, 0.0)


def face(**changes) -> np.ndarray:
    return np.asarray(draw_face(dict(NEUTRAL, **changes)), dtype=np.int16)        # (H, W, 3)


@pytest.fixture(scope="module")
def faces100():
    """100 faces of the test split's seed, drawn once (about 6 ms a face)."""
    return make_faces(100, seed=1)


def test_same_seed_same_faces_and_factors_other_seed_other_faces():
    a, b, c = make_faces(12, seed=3), make_faces(12, seed=3), make_faces(12, seed=4)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.factors, b.factors)
    assert not np.array_equal(a.factors, c.factors) and not np.array_equal(a.images, c.images)
    assert a.images.shape == (12, 3, 64, 64) and a.images.dtype == np.uint8
    assert a.factors.shape == (12, len(FACTORS)) and a.factor_names == FACTORS
    assert a.factors.min() >= -1 and a.factors.max() <= 1


def test_factors_are_independent_and_cover_their_range():
    f = sample_factors(4000, seed=0)
    corr = np.corrcoef(f.T) - np.eye(len(FACTORS))
    assert np.abs(corr).max() < 0.06
    assert (f.min(0) < -0.95).all() and (f.max(0) > 0.95).all()


def test_the_recorded_factors_redraw_the_same_images(tmp_path):
    sizes = build_faces(tmp_path, n=20, n_test=6, seed=1)
    assert sizes == {"train": 20, "test": 6}
    train = read_faces(tmp_path / "train.npz")
    assert np.array_equal(render(train.factors), train.images)               # the images are the factors
    assert load_dataset("faces", "test", tmp_path).factors.shape == (6, len(FACTORS))
    assert not np.array_equal(read_faces(tmp_path / "test.npz").factors, train.factors[:6])


def test_smile_and_frown_are_mirror_image_mouths():
    smile, frown = face(smile=1.0), face(smile=-1.0)
    diff = np.abs(smile - frown).sum(2) > 30
    rows = np.nonzero(diff.any(1))[0]
    assert rows.min() > 32                                                   # only the mouth changed
    band = slice(rows.min() - 3, rows.max() + 4)
    s, f = (x[band, 18:46].mean(2) < 120 for x in (smile, frown))          # the mouth's dark pixels
    iou = max((np.roll(s[::-1], k, axis=0) & f).sum() / (np.roll(s[::-1], k, axis=0) | f).sum()
              for k in range(-2, 3))
    assert iou > 0.85 > (s & f).sum() / (s | f).sum()                       # the flip is the frown
    assert mouth_curvature(smile.transpose(2, 0, 1)[None])[0] > 0.8
    assert mouth_curvature(frown.transpose(2, 0, 1)[None])[0] < -0.8


def test_mouth_curvature_estimate_is_monotone_in_the_smile_factor(faces100):
    for seed in range(8):
        f = np.repeat(sample_factors(1, seed=100 + seed), 9, axis=0)
        f[:, FACTORS.index("smile")] = np.linspace(-1, 1, 9)
        est = mouth_curvature(render(f))
        assert np.all(np.diff(est) > 0), (seed, est.round(2))
    smile = faces100.factors[:, FACTORS.index("smile")]
    assert np.corrcoef(mouth_curvature(faces100.images), smile)[0, 1] > 0.97


@pytest.mark.parametrize("name,lo,hi", [("mouth_open", -1, 1), ("eye_size", -1, 1), ("face_width", -1, 1)])
def test_other_factors_change_the_drawing_where_they_should(name, lo, hi):
    a, b = face(**{name: lo}), face(**{name: hi})
    ink = lambda x: (x.mean(2) < 200).sum()                                 # noqa: E731 - dark or coloured pixels
    assert ink(b) > ink(a)


def test_colour_walks_from_yellow_to_skin_tones():
    yellow, dark = face(colour=-1.0)[32, 32], face(colour=1.0)[32, 32]
    assert yellow[2] < 100 < yellow[0] and dark.sum() < yellow.sum() - 150


def test_faces_is_a_built_in_data_set_and_bad_sizes_are_refused(tmp_path):
    assert "faces" in DATASETS
    with pytest.raises(DataError):
        build_faces(tmp_path, n=0)
    (tmp_path / "test.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a faces file"):
        read_faces(tmp_path / "test.npz")


# ---------------------------------------------------------------- the shipped faces models
@pytest.fixture(scope="module")
def faces(registry):
    return registry.get("faces")


def encode_means(m, images: np.ndarray):
    import torch

    from model.nets.encoding import encode_all

    return torch.from_numpy(encode_all(m.vae, images)[0])


def decoded(m, z) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return m.vae.decode(z).numpy()


def test_both_faces_models_load_with_load_vae():
    from model import load_vae

    for name, beta in (("faces", 1.0), ("faces-beta4", 4.0)):
        vae = load_vae(ROOT / "weights" / name)
        c = vae.config
        assert (c.image_size, c.channels, c.beta, c.background) == (64, 3, beta, "white")


@pytest.mark.slow                                                       # draws 2,256 faces: about 15 s
def test_prior_samples_lie_as_close_to_test_faces_as_test_faces_do(faces):
    from model.analysis.disentangle import N_REFERENCE, N_SAMPLES, prior_distance_ratio

    test = make_faces(N_REFERENCE + N_SAMPLES, seed=1)                  # the test split's seed: its first faces
    found = prior_distance_ratio(faces.vae, test.images, seed=0)
    assert found["prior_distance_ratio"] <= 1.5, found
    assert found["prior_distance_ratio"] == pytest.approx(faces.metrics["prior_distance_ratio"], abs=0.002)


def test_the_smile_direction_raises_the_mouth_of_20_random_faces(faces):
    import torch

    from model.store.weights import directions

    v = torch.from_numpy(directions(faces.atlas)["smile"])
    mu = encode_means(faces, make_faces(20, seed=77).images)
    before, after = mouth_curvature(decoded(faces, mu)), mouth_curvature(decoded(faces, mu + v))
    assert (after > before).all(), np.round(after - before, 2)
    assert np.median(after - before) > 0.15                             # well above pixel noise


def test_the_grin_to_frown_walk_turns_the_mouth_steadily(faces):
    import torch

    ends = np.stack([np.asarray(Image.open(ROOT / "assets" / "examples" / "faces" / f"{n}.png")).transpose(2, 0, 1)
                     for n in ("grin", "frown")])
    mu = encode_means(faces, ends)
    t = torch.linspace(0, 1, 9)[:, None]
    est = mouth_curvature(decoded(faces, (1 - t) * mu[0] + t * mu[1]))
    assert est[0] > 0.5 and est[-1] < -0.5, est.round(2)
    assert np.all(np.diff(est) < 0.02), est.round(2)                      # down all the way, no turning back


def test_both_models_report_mig_and_what_each_dimension_learned(registry):
    for name in ("faces", "faces-beta4"):
        met = registry.get(name).metrics
        assert 0 <= met["mig"] <= 1 and set(met["mig_per_factor"]) == set(FACTORS)
        assert np.asarray(met["factor_abs_corr"]).shape == (len(FACTORS), 16)
        assert list(met["factor_names"]) == list(FACTORS)


def test_the_about_tab_shows_the_heatmap_and_both_migs(registry):
    from ui.about import AboutPanel

    panel = AboutPanel(registry)
    note, fig = panel.factors(registry.get("faces"))
    for name in ("faces", "faces-beta4"):
        assert f"| {name} |" in note and f"{registry.get(name).metrics['mig']:.3f}" in note
    assert fig.data[0].type == "heatmap" and np.asarray(fig.data[0].z).shape == (len(FACTORS), 16)
    assert panel.factors(registry.get("fashion-mnist")) == ("", None)


def test_an_atlas_of_colour_faces_keeps_at_most_6_mb_of_thumbnails(tmp_path, faces100):
    import torch

    from model import VAEConfig
    from model.data.base import Dataset
    from model.nets.vae import ConvVAE
    from model.training.evaluate import build_atlas

    # 500 colour faces, more than the 488 thumbnails an atlas keeps: the 100 drawn ones, five times over
    faces500 = Dataset(np.tile(faces100.images, (5, 1, 1, 1)), np.tile(faces100.labels, 5), faces100.class_names)

    torch.manual_seed(0)
    vae = ConvVAE(VAEConfig(image_size=64, channels=3, latent_dim=4, widths=(8, 8, 8), hidden=16,
                            background="white", class_names=("frowning", "neutral", "smiling"))).eval()
    atlas = build_atlas(vae, faces500, tmp_path, method="pca")
    assert len(faces500) > len(atlas["thumbnails"]) == len(atlas["thumb_index"]) == 6_000_000 // (64 * 64 * 3)


@pytest.mark.browser
def test_the_smile_slider_turns_the_painted_mouth_in_the_page(open_page, app_url):
    """On the faces model, the smile slider (α from −2 to +2) turns the mouth of the face the page
    paints, measured on the canvas's own pixels, and sends no request."""
    import re

    page = open_page(app_url)
    page.locator("#model-picker input").click()
    page.get_by_role("option", name=re.compile(r"^faces( —|$)")).click()
    page.wait_for_function("() => VAE.state.model === 'faces' && VAE.state.backend === 'wasm'")
    labels = page.eval_on_selector_all(".attrslider", "els => els.filter(e => e.offsetParent).map(e => e.id)")
    assert len(labels) == len(FACTORS)
    page.wait_for_function("() => document.querySelector('#attr-0').innerText.includes('smile')")
    rng, sent, est = page.locator("#attr-0 input[type=range]"), len(page.requests), {}
    for key in ("Home", "End"):                                         # amount -> -2, then +2
        n = page.evaluate("VAE.stats.paints")
        rng.focus()
        rng.press(key)
        page.wait_for_function("n => VAE.stats.paints > n", arg=n)
        w, h, px = page.evaluate("""() => { const c = document.querySelector('#live canvas.vae-decoded');
            return [c.width, c.height, Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)]; }""")
        rgb = np.asarray(px, dtype=np.uint8).reshape(h, w, 4)[..., :3]
        est[key] = mouth_curvature(rgb.transpose(2, 0, 1)[None])[0]
    assert est["End"] > est["Home"] + 1.0, est
    assert [u for u in page.requests[sent:] if "/gradio_api/" in u] == []
    assert page.problems == []
