"""The faces data set (issue 15): deterministic by seed, factors recorded with the images and true to
what was drawn, the mouth measured back from pixels; and the shipped faces models against it."""
from pathlib import Path

import numpy as np
import pytest

from model.data import DATASETS, DataError, load_dataset
from model.data.faces import (FACTORS, build_faces, draw_face, make_faces, mouth_curvature, read_faces, render,
                              sample_factors)

ROOT = Path(__file__).resolve().parents[1]
NEUTRAL = dict.fromkeys(FACTORS, 0.0)


def face(**changes) -> np.ndarray:
    return np.asarray(draw_face(dict(NEUTRAL, **changes)), dtype=np.int16)        # (H, W, 3)


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


def test_mouth_curvature_estimate_is_monotone_in_the_smile_factor():
    for seed in range(8):
        f = np.repeat(sample_factors(1, seed=100 + seed), 9, axis=0)
        f[:, FACTORS.index("smile")] = np.linspace(-1, 1, 9)
        est = mouth_curvature(render(f))
        assert np.all(np.diff(est) > 0), (seed, est.round(2))
    ds = make_faces(200, seed=9)
    assert np.corrcoef(mouth_curvature(ds.images), ds.factors[:, 0])[0, 1] > 0.97


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
