"""Attribute directions in latent space (White 2016, "Sampling Generative Networks", section 2.4):
a vector v per attribute, so that z + amount * v adds that much of the attribute to any face.

    python -m model attributes weights/faces weights/fashion-mnist weights/emoji   # (re)compute, store

Where the vectors come from depends on what the data set knows:
- faces (known factors): least squares from the test set's means to each factor, f ~ mu . w + b;
  v = w / |w|^2 is the shortest step that raises the predicted factor by 1 (the factors span -1..1).
- Fashion-MNIST: class to class, v = mean(mu | B) - mean(mu | A): amount 1 walks from A's centre to B's.
- emoji: smile, the mean of the emoji whose Unicode names say grinning or smiling minus the mean of
  those that say frowning (rendered from the font, encoded by the model).

They live in the model's atlas.npz beside the map (ATTRIBUTE_KEYS); every other key is kept as it is.
"""
from __future__ import annotations

import argparse
import unicodedata
from pathlib import Path

import numpy as np

from ..cli import run
from ..data import DataError, load_faces
from ..data.faces import FACTOR_HELP
from ..nets.encoding import encode_all
from ..store.weights import WeightsError, load_atlas, load_metrics, load_vae, save_atlas

FASHION_PAIRS = (("T-shirt/top", "Shirt"), ("Sneaker", "Ankle boot"), ("Pullover", "Coat"),
                 ("Sandal", "Sneaker"), ("Trouser", "Dress"), ("Shirt", "Dress"))
SMILE_WORDS, FROWN_WORDS = ("GRINNING", "SMILING"), ("FROWNING",)


def least_squares_directions(mu: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """(N, D) means, (N, F) factors -> (F, D): per factor, w / |w|^2 with [w, b] the least-squares fit
    of factor ~ mu . w + b, so that z + v raises the fitted factor by exactly 1."""
    x = np.hstack([mu.astype(np.float64), np.ones((len(mu), 1))])
    coef, *_ = np.linalg.lstsq(x, factors.astype(np.float64), rcond=None)
    w = coef[:-1].T                                          # (F, D)
    return (w / np.maximum((w ** 2).sum(1, keepdims=True), 1e-12)).astype(np.float32)


def mean_difference(mu: np.ndarray, to: np.ndarray, frm: np.ndarray) -> np.ndarray:
    """mean(mu[to]) - mean(mu[frm]) for two boolean masks (each must select something)."""
    if not to.any() or not frm.any():
        raise DataError("an attribute direction needs examples on both sides")
    return (mu[to].mean(0) - mu[frm].mean(0)).astype(np.float32)


def face_directions(mu: np.ndarray, factors: np.ndarray, names) -> dict:
    v = least_squares_directions(mu, factors)
    return {"names": list(names), "vectors": v,
            "notes": [f"{FACTOR_HELP.get(n, n)}; least squares from the test means" for n in names]}


def class_directions(mu: np.ndarray, labels: np.ndarray, class_names, pairs=FASHION_PAIRS) -> dict:
    """Class-to-class directions for the pairs whose classes this model has."""
    idx = {c: i for i, c in enumerate(class_names)}
    usable = [(a, b) for a, b in pairs if a in idx and b in idx]
    return {"names": [f"{a} to {b}" for a, b in usable],
            "vectors": np.stack([mean_difference(mu, labels == idx[b], labels == idx[a]) for a, b in usable]),
            "notes": [f"from the mean of {a} to the mean of {b} (test set)" for a, b in usable]}


def emoji_smile_direction(vae, font_path=None) -> dict:
    """The smile direction of an emoji model: grinning/smiling minus frowning faces from the font."""
    from PIL import ImageFont

    from ..data.emoji import BITMAP_SIZE, NOTO_EMOJI, emoji_code_points, render

    font_path = Path(font_path or NOTO_EMOJI)
    if not font_path.is_file():
        raise DataError(f"{font_path}: missing; install fonts-noto-color-emoji to compute the emoji smile")
    font = ImageFont.truetype(str(font_path), BITMAP_SIZE)
    side = {"smile": [], "frown": []}
    for cp in emoji_code_points(font_path):
        name = unicodedata.name(chr(cp), "")
        key = ("smile" if any(w in name for w in SMILE_WORDS) else
               "frown" if any(w in name for w in FROWN_WORDS) else None)
        img = render(font, chr(cp), vae.config.image_size) if key and "FACE" in name else None
        if img is not None:
            side[key].append(np.asarray(img).transpose(2, 0, 1))
    mus = {k: encode_all(vae, np.stack(v))[0] for k, v in side.items()}
    v = mus["smile"].mean(0) - mus["frown"].mean(0)
    return {"names": ["smile"], "vectors": v[None].astype(np.float32),
            "notes": [f"grinning/smiling ({len(mus['smile'])} emoji) minus frowning ({len(mus['frown'])})"]}


def emoji_groups() -> set[str]:
    """The class names of a model trained on `python -m model data emoji`'s folders."""
    from ..data.emoji import GROUPS, slug

    return {slug(g) for g, _, _ in GROUPS} | {"objects"}


def compute_directions(directory, data_dir=None) -> dict:
    """The directions that suit this model's data set (see the module's docstring)."""
    directory = Path(directory)
    atlas, metrics = load_atlas(directory), load_metrics(directory)
    dataset = metrics.get("dataset")
    class_names = [str(c) for c in atlas["class_names"]]
    if dataset == "faces":
        test = load_faces("test", data_dir)
        if len(test) != len(atlas["mu"]):
            raise DataError(f"{directory}: its atlas holds {len(atlas['mu'])} means, the faces test set "
                            f"{len(test)}; rebuild the atlas")
        return face_directions(atlas["mu"], test.factors, test.factor_names)
    if any(a in class_names and b in class_names for a, b in FASHION_PAIRS):
        return class_directions(atlas["mu"], atlas["labels"], class_names)
    if set(class_names) == emoji_groups():
        return emoji_smile_direction(load_vae(directory))
    raise DataError(f"{directory}: no attribute directions for this data set ({dataset or 'unknown'})")


def store_directions(directory, found: dict) -> None:
    """Add (or replace) the attribute keys in atlas.npz, keeping every other key as it is."""
    atlas = load_atlas(directory)
    atlas.update(attribute_names=np.array(found["names"], dtype=str),
                 attribute_vectors=np.asarray(found["vectors"], dtype=np.float32),
                 attribute_notes=np.array(found["notes"], dtype=str))
    save_atlas(directory, **atlas)


def update(folder, data_dir=None) -> str:
    """Compute and store one model's directions; the line that says which."""
    found = compute_directions(folder, data_dir)
    store_directions(folder, found)
    return f"{folder}: {len(found['names'])} directions ({', '.join(found['names'])})"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m model attributes", description=__doc__.splitlines()[0])
    p.add_argument("weights", nargs="+", help="weights folders, e.g. weights/faces weights/fashion-mnist")
    p.add_argument("--data-dir", default=None, help="faces: the folder with train.npz/test.npz")
    args = p.parse_args(argv)
    return run(lambda: "\n".join(update(f, args.data_dir) for f in args.weights), WeightsError, DataError)
