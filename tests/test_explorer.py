"""The explorer's handler functions (model/serving/requests.py), called directly: no server, no browser.

Everything runs on the weights root the suite uses (the shipped `weights/` unless VAE_WEIGHTS says
otherwise), so nothing here depends on how well a model trained: only on what the functions promise.
"""
import base64
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from model.nets.walk import interpolate, sample_prior, typical_radius
from model.serving import requests as ex
from model.serving.registry import ModelRegistry

ROOT = Path(__file__).resolve().parents[1]
TSHIRT = str(ROOT / "assets" / "examples" / "drawn-tshirt.png")
TROUSERS = str(ROOT / "assets" / "examples" / "drawn-trousers.png")


def px(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.int16)


def raw_decode(m, z) -> np.ndarray:
    """The decoder's own output as uint8 (H, W[, C]): what the displayed image must be made of."""
    with torch.inference_mode():
        x = m.vae.decode(torch.tensor([z], dtype=torch.float32))[0]
    arr = x.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()
    return arr[..., 0] if arr.shape[2] == 1 else arr


def close(a: np.ndarray, b: np.ndarray, atol: int = 1) -> bool:
    """Same image up to ±atol per pixel: a batched decode may round a pixel the other way."""
    return a.shape == b.shape and int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max()) <= atol


def assert_crisp_upscale(img: Image.Image, small: np.ndarray, atol: int = 0) -> None:
    """img is `small` upscaled by an integer factor with nearest-neighbour: every model pixel is a
    constant square, so the image holds no value the small one lacks (no blur, no interpolation).
    atol: allowed difference of a pixel value (for a z that went through 4-decimal rounding)."""
    big = px(img)
    s = big.shape[0] // small.shape[0]
    assert big.shape[0] == small.shape[0] * s and big.shape[1] == small.shape[1] * s
    blocks = big.reshape(small.shape[0], s, small.shape[1], s, *big.shape[2:])
    assert (blocks == blocks[:, :1, :, :1]).all(), "an upscaled pixel is not a constant square"
    diff = np.abs(blocks[:, 0, :, 0] - small.astype(np.int16)).max()
    assert diff <= atol, f"upscaled image differs from the decoder's output by {diff}"


# ---------------------------------------------------------------- registry
def test_registry_lists_every_model_and_defaults_to_fashion_mnist(registry, weights_root):
    names = registry.names()
    assert {"fashion-mnist", "fashion-mnist-2d", "emoji"} <= set(names)
    folders = {d.name for d in weights_root.iterdir() if (d / "model.safetensors").is_file()}
    assert set(names) == folders
    assert registry.default() == "fashion-mnist"
    assert registry.get("emoji").dim == 32 and registry.get("emoji").config.channels == 3
    assert registry.get("fashion-mnist-2d").dim == 2
    with pytest.raises(ex.ExplorerError, match="unknown model .*choose one of: .*fashion-mnist"):
        registry.get("../../etc")


def test_registry_default_falls_back_to_first_model(tmp_path, weights_root):
    (tmp_path / "emoji").symlink_to(weights_root / "emoji", target_is_directory=True)
    (tmp_path / "notes").mkdir()                                  # a folder that is not a model: skipped
    reg = ModelRegistry(tmp_path)
    assert reg.names() == ["emoji"] and reg.default() == "emoji"
    assert any("notes" in w for w in reg.warnings)


def test_decode_is_about_280_px_and_crisp(m):
    z = [0.5 * (-1) ** i for i in range(m.dim)]
    img = ex.decode(m, z)
    assert img.size == (280, 280) and img.mode == "L"
    assert_crisp_upscale(img, raw_decode(m, z))


def test_decode_colour_model_is_crisp_rgb(registry):
    e = registry.get("emoji")
    z = [0.0] * e.dim
    img = ex.decode(e, z)
    assert img.mode == "RGB" and img.size == (256, 256)            # 64 px x 4: the integer factor nearest 280
    assert_crisp_upscale(img, raw_decode(e, z))


def test_decode_depends_on_z(m):
    a = px(ex.decode(m, [0.0] * m.dim))
    b = px(ex.decode(m, [2.0] * m.dim))
    assert not np.array_equal(a, b)


# ---------------------------------------------------------------- encode and the reparameterization trick
@pytest.fixture(scope="module")
def tshirt(m):
    return ex.encode(m, TSHIRT)


def test_encode_returns_the_posterior_and_the_elbo_terms(m, tshirt):
    info = tshirt
    for key in ("mu", "logvar", "sigma", "z", "eps", "recon", "kl", "elbo", "map_xy", "kl_per_dim"):
        assert key in info
    for key in ("mu", "logvar", "sigma", "z", "eps", "kl_per_dim"):
        assert len(info[key]) == m.dim
    assert info["elbo"] == pytest.approx(-(info["recon"] + info["kl"]), abs=2e-3)
    assert info["kl"] >= 0 and info["recon"] > 0
    assert info["kl"] == pytest.approx(sum(info["kl_per_dim"]), abs=1e-2)
    np.testing.assert_allclose(info["sigma"], np.exp(0.5 * np.array(info["logvar"])), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(info["z"], np.array(info["mu"]) + np.array(info["sigma"]) * np.array(info["eps"]),
                               atol=2e-3)                          # z = mu + sigma * eps
    assert len(info["map_xy"]) == 2
    assert info["map_xy"] == pytest.approx(ex.place(m, info["mu"]), abs=1e-3)
    assert info["input_image"].size == info["recon_image"].size == (280, 280)


def test_encode_reconstruction_decodes_z_and_input_is_the_preprocessed_image(m, tshirt):
    assert_crisp_upscale(tshirt["recon_image"], raw_decode(m, tshirt["z"]), atol=2)   # z is rounded to 4 decimals
    arr = px(tshirt["input_image"])
    assert arr[:10, :10].std() == 0                                # a model pixel is one 10x10 square
    assert arr.mean() < 128                                        # drawing on white inverted to the data's black


def test_resample_moves_z_but_not_mu_or_sigma(m, tshirt):
    mu, logvar, sigma = tshirt["mu"], tshirt["logvar"], np.array(tshirt["sigma"])
    r0 = ex.reparameterize(m, mu, logvar, 0)
    assert r0["z"] == pytest.approx(tshirt["z"], abs=1e-3)         # encode draws with seed 0
    r1, r2 = ex.reparameterize(m, mu, logvar, 1), ex.reparameterize(m, mu, logvar, 2)
    assert r1["z"] != r2["z"] and r1["eps"] != r2["eps"]
    for r in (r1, r2):
        np.testing.assert_allclose(r["z"], np.array(mu) + sigma * np.array(r["eps"]), atol=2e-3)
        assert r["image"].size == (280, 280)
    assert ex.reparameterize(m, mu, logvar, 1)["z"] == r1["z"]     # same seed, same draw
    # mu and sigma are the encoder's: encoding again gives the same distribution
    again = ex.encode(m, TSHIRT, seed=5)
    assert again["mu"] == mu and again["logvar"] == logvar and again["z"] != tshirt["z"]
    with pytest.raises(ex.ExplorerError, match=f"logvar has 3 values; this model expects {m.dim}"):
        ex.reparameterize(m, mu, [0.0] * 3, 0)


# ---------------------------------------------------------------- sampling
def test_sample_same_seed_same_images_other_seed_other_images(m):
    a, za = ex.sample(m, 6, 1.0, 7)
    b, zb = ex.sample(m, 6, 1.0, 7)
    c, zc = ex.sample(m, 6, 1.0, 8)
    assert len(a) == 6 and za.shape == (6, m.dim)
    assert all(np.array_equal(px(x), px(y)) for x, y in zip(a, b, strict=True))
    assert np.array_equal(za, zb) and not np.array_equal(za, zc)
    assert not np.array_equal(px(a[0]), px(c[0]))
    assert len({px(x).tobytes() for x in a}) > 1                   # six draws, not one image six times
    assert_crisp_upscale(a[2], raw_decode(m, za[2].tolist()), atol=1)   # each image decodes its own z (batched: ±1)


def test_sample_temperature_scales_z_and_zero_gives_the_decoded_origin(m):
    _, z1 = ex.sample(m, 4, 1.0, 3)
    _, zh = ex.sample(m, 4, 0.5, 3)
    np.testing.assert_allclose(zh, 0.5 * z1, rtol=1e-6)
    imgs, z0 = ex.sample(m, 4, 0.0, 3)
    assert not z0.any()
    origin = px(ex.decode(m, [0.0] * m.dim))
    assert all(np.array_equal(px(im), origin) for im in imgs)


def test_sample_checks_its_arguments(m):
    with pytest.raises(ex.ExplorerError, match="n must be a whole number from 1 to 64"):
        ex.sample(m, 0, 1.0, 0)
    with pytest.raises(ex.ExplorerError, match="temperature"):
        ex.sample(m, 1, -1.0, 0)


# ---------------------------------------------------------------- interpolation
def test_interpolation_ends_are_the_two_encodings(m, tshirt):
    trousers = ex.encode(m, TROUSERS)
    for method in ("linear", "spherical"):
        r = ex.interpolate_images(m, TSHIRT, TROUSERS, 5, method)
        assert len(r["frames"]) == 5 and r["z"].shape == (5, m.dim)
        np.testing.assert_allclose(r["z"][0], tshirt["mu"], atol=1e-3)
        np.testing.assert_allclose(r["z"][-1], trousers["mu"], atol=1e-3)
        assert_crisp_upscale(r["frames"][0], raw_decode(m, r["z"][0].tolist()), atol=1)
        assert not np.array_equal(px(r["frames"][0]), px(r["frames"][-1]))
        assert set(r["norms"]) == {"linear", "spherical"}
        np.testing.assert_allclose(r["norms"][method], np.linalg.norm(r["z"], axis=1), rtol=1e-5)
        assert r["radius"] == pytest.approx(typical_radius(m.dim))
    # the middle frames differ between the two paths
    lin = ex.interpolate_images(m, TSHIRT, TROUSERS, 5, "linear")["z"]
    sph = ex.interpolate_images(m, TSHIRT, TROUSERS, 5, "spherical")["z"]
    assert not np.allclose(lin[2], sph[2], atol=1e-3)


def test_spherical_path_stays_nearer_the_typical_radius_than_linear(m):
    # two draws from the prior: both near the shell |z| ~ sqrt(D); lerp cuts inside it, slerp does not
    z = sample_prior(2, m.dim, 1.0, seed=0)
    r = typical_radius(m.dim)
    lin = interpolate(z[0], z[1], 11, "linear").norm(dim=1).numpy()
    sph = interpolate(z[0], z[1], 11, "spherical").norm(dim=1).numpy()
    assert np.abs(sph - r).mean() < np.abs(lin - r).mean()
    assert lin[5] < min(lin[0], lin[-1]) - 0.5                      # linear midpoint dips into the ball
    assert sph[5] >= min(sph[0], sph[-1]) - 1e-4                    # spherical stays between the end norms
    # on real encodings: the midpoint of slerp is always further out than that of lerp
    norms = ex.interpolate_images(m, TSHIRT, TROUSERS, 7, "spherical")["norms"]
    assert norms["spherical"][3] > norms["linear"][3]


def test_interpolation_checks_its_arguments(m):
    for steps in (1, 65, 2.5):
        with pytest.raises(ex.ExplorerError, match="steps must be a whole number from 2 to 64"):
            ex.interpolate_images(m, TSHIRT, TROUSERS, steps, "linear")
    with pytest.raises(ex.ExplorerError, match="method must be 'linear' or 'spherical'"):
        ex.interpolate_images(m, TSHIRT, TROUSERS, 4, "cubic")
    with pytest.raises(ex.ExplorerError, match="no image given"):
        ex.interpolate_images(m, None, TROUSERS, 4, "linear")


# ---------------------------------------------------------------- map, pick, manifold
def test_pick_returns_the_atlas_mean_and_its_decoding(m):
    n = len(m.atlas["mu"])
    for i in (0, 42 % n, n - 1):
        mu, img = ex.pick(m, i)
        np.testing.assert_allclose(mu, m.atlas["mu"][i], atol=1e-4)
        assert_crisp_upscale(img, raw_decode(m, m.atlas["mu"][i].tolist()))
    with pytest.raises(ex.ExplorerError, match=f"index must be a whole number from 0 to {n - 1}"):
        ex.pick(m, n)


def test_manifold_is_kingma_welling_figure_4_for_the_2d_model(m, m2d):
    img = ex.manifold(m2d)
    n, tile = 15, 56
    assert img.size == (n * tile, n * tile)
    arr = px(img.convert("L"))
    vals = torch.distributions.Normal(0, 1).icdf(torch.linspace(0.5 / n, 1 - 0.5 / n, n)).tolist()
    for row, col in ((0, 0), (7, 7), (14, 3)):                      # z0 grows to the right, z1 upwards
        t = arr[row * tile:(row + 1) * tile, col * tile:(col + 1) * tile]
        assert close(t[::2, ::2], raw_decode(m2d, [vals[col], vals[n - 1 - row]])), (row, col)
    with pytest.raises(ex.ExplorerError, match="2-D latent"):
        ex.manifold(m)


def test_map_points_are_the_atlas(m):
    pts = ex.map_points(m)
    n = len(m.atlas["mu"])
    assert pts["model"] == "fashion-mnist"
    assert len(pts["x"]) == len(pts["y"]) == len(pts["label"]) == n
    assert pts["classes"] == m.class_names and len(pts["classes"]) == 10
    assert set(pts["label"]) == set(range(10))
    np.testing.assert_allclose(pts["x"], m.atlas["xy"][:, 0], atol=1e-3)
    np.testing.assert_allclose(pts["y"], m.atlas["xy"][:, 1], atol=1e-3)
    assert pts["method"] == str(m.atlas["map_method"])


def _data_url_image(url: str) -> Image.Image:
    assert url.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def test_hover_card_shows_class_test_image_and_decoded_mean(m):
    thumbs = m.atlas["thumb_index"]
    i = int(thumbs[1])
    card = ex.hover_card(m, i)
    assert card["index"] == i
    assert card["label"] == m.class_names[int(m.atlas["labels"][i])]
    orig = _data_url_image(card["original"])
    assert orig.size == (84, 84)
    assert np.array_equal(px(orig.convert("L"))[::3, ::3], m.atlas["thumbnails"][1].reshape(28, 28))
    dec = _data_url_image(card["decoded"])
    assert dec.size == (84, 84)
    assert close(px(dec.convert("L"))[::3, ::3], raw_decode(m, m.atlas["mu"][i].tolist()))
    missing = sorted(set(range(len(m.atlas["mu"]))) - set(thumbs.tolist()))
    if missing:                                                      # no thumbnail stored: decoded mean only
        assert ex.hover_card(m, missing[0])["original"] is None
    with pytest.raises(ex.ExplorerError, match="index"):
        ex.hover_card(m, -1)


def test_place_puts_a_test_mean_on_its_own_map_point(m, m2d):
    for model in (m, m2d):
        xy = model.atlas["xy"]
        span = np.ptp(xy, axis=0)
        for i in (0, 17, 999):
            got = ex.place(model, model.atlas["mu"][i].tolist())
            assert np.all(np.abs(np.array(got) - xy[i]) <= 1e-3 * span + 1e-3), (model.name, i)
    z = [1.0, -0.5]
    if m2d.atlas["map_method"] == "plane":                           # the 2-D model's map is the latent plane
        assert ex.place(m2d, z) == pytest.approx(z)
    far = ex.place(m, [4.0] * m.dim)
    assert len(far) == 2 and far != ex.place(m, [-4.0] * m.dim)
