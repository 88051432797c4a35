"""The HTTP API: the public endpoints with exactly their names and parameter names, images
returned as files, and bad input answered with a readable gradio error while the server keeps serving.

Each endpoint test runs twice (conftest's `endpoint`): calling the handler directly (fast), and through
`gradio_client` against the real app served on a free port (slow). Results are cross-checked against
the explorer called in-process on the same weights."""
import base64
import io
from pathlib import Path

import numpy as np
import pytest
from conftest import gallery_paths
from PIL import Image

from model.serving import requests as ex

ROOT = Path(__file__).resolve().parents[1]
TSHIRT = str(ROOT / "assets" / "examples" / "drawn-tshirt.png")
TROUSERS = str(ROOT / "assets" / "examples" / "drawn-trousers.png")
MODEL = "fashion-mnist"

ENDPOINTS = {
    "/decode": ["z", "model"],
    "/encode": ["image", "model"],
    "/sample": ["n", "temperature", "seed", "model"],
    "/interpolate": ["image_a", "image_b", "steps", "method", "model"],
    "/pick": ["index", "model"],
    "/attribute": ["z", "name", "amount", "model"],
    "/compare": ["image", "models", "seed"],
    "/train": ["dataset", "images", "latent_dim", "beta", "seconds", "name"],   # live training (test_train_live.py)
    "/train_ready": ["dataset"],
    "/train_status": ["job"],
    "/train_set": ["job", "beta", "lr"],
    "/train_stop": ["job"],
    "/models": [],
    "/typicality": ["image", "model"],                                         # tests/test_typical_ui.py
    "/typicality_batch": ["images", "model"],
}
UPLOADS = ("/encode", "/interpolate", "/compare", "/train", "/typicality",   # take Gradio's file data raw
           "/typicality_batch")                                              # (preprocess=False)


def pixels(path) -> np.ndarray:
    p = Path(path)
    assert p.is_file(), path
    with Image.open(p) as img:
        assert img.format == "PNG"
        return np.asarray(img.convert("L"), dtype=np.int16)


@pytest.fixture(params=["built", pytest.param("served", marks=pytest.mark.slow)])
def api_info(request) -> dict:
    """The API's description: from the built page (fast), and as gradio_client reads it from the
    served app (slow)."""
    if request.param == "built":
        return request.getfixturevalue("demo").get_api_info()
    return request.getfixturevalue("client").view_api(return_format="dict", print_info=False)


def test_endpoints_have_exactly_the_documented_names_and_parameters(api_info):
    named = api_info["named_endpoints"]
    assert set(named) == set(ENDPOINTS)                       # the page's own events stay private
    for name, params in ENDPOINTS.items():
        assert [p["parameter_name"] for p in named[name]["parameters"]] == params, name
    choices = named["/decode"]["parameters"][1]["python_type"]["type"]
    assert MODEL in choices and "emoji" in choices


def test_upload_endpoints_take_the_file_as_sent(demo):
    """Gradio's own Image preprocessing would decode any format Pillow knows and drop alpha and 16-bit
    depth (ui/files.py upload_path): the upload endpoints skip it, the others keep Gradio's checks."""
    wiring = {f"/{fn.api_name}": fn.preprocess for fn in demo.fns.values() if f"/{fn.api_name}" in ENDPOINTS}
    assert set(wiring) == set(ENDPOINTS)
    assert {name for name, pre in wiring.items() if not pre} == set(UPLOADS)


def test_decode_returns_the_decoded_image_as_a_file(endpoint, m):
    z = [0.5] * m.dim
    path = endpoint("/decode", z=z, model=MODEL)
    arr = pixels(path)
    assert arr.shape == (280, 280)
    assert np.array_equal(arr, np.asarray(ex.decode(m, z), dtype=np.int16))
    other = endpoint("/decode", z=[-1.0] * m.dim, model=MODEL)
    assert not np.array_equal(pixels(other), arr)


def test_decode_other_model(endpoint):
    path = endpoint("/decode", z=[0.0] * 32, model="emoji")
    with Image.open(path) as img:
        assert img.size == (256, 256) and img.mode == "RGB"


def test_encode_returns_reconstruction_and_elbo_terms(endpoint, m):
    recon, info = endpoint("/encode", image=TSHIRT, model=MODEL)
    assert pixels(recon).shape == (280, 280)
    for key in ("mu", "logvar", "recon", "kl", "elbo", "map_xy"):
        assert key in info, key
    assert len(info["mu"]) == len(info["logvar"]) == m.dim and len(info["map_xy"]) == 2
    assert info["elbo"] == pytest.approx(-(info["recon"] + info["kl"]), abs=2e-3)
    want = ex.encode(m, TSHIRT)
    assert info["mu"] == pytest.approx(want["mu"], abs=1e-4)
    assert info["kl"] == pytest.approx(want["kl"], abs=1e-2)
    assert np.array_equal(pixels(recon), np.asarray(want["recon_image"], dtype=np.int16))


def test_sample_returns_n_images_and_the_same_seed_gives_the_same_pixels(endpoint, m):
    a = gallery_paths(endpoint("/sample", n=5, temperature=1.0, seed=11, model=MODEL))
    b = gallery_paths(endpoint("/sample", n=5, temperature=1.0, seed=11, model=MODEL))
    c = gallery_paths(endpoint("/sample", n=5, temperature=1.0, seed=12, model=MODEL))
    assert len(a) == len(b) == len(c) == 5
    pa, pb, pc = ([pixels(p) for p in x] for x in (a, b, c))
    assert all(x.shape == (280, 280) for x in pa)
    assert all(np.array_equal(x, y) for x, y in zip(pa, pb, strict=True))
    assert not any(np.array_equal(x, y) for x, y in zip(pa, pc, strict=True))
    want, _ = ex.sample(m, 5, 1.0, 11)
    assert np.array_equal(pa[3], np.asarray(want[3], dtype=np.int16))
    zero = gallery_paths(endpoint("/sample", n=2, temperature=0.0, seed=3, model=MODEL))
    origin = np.asarray(ex.decode(m, [0.0] * m.dim), dtype=np.int16)
    assert all(np.array_equal(pixels(p), origin) for p in zero)


def test_interpolate_returns_steps_frames_and_a_gif(endpoint, m):
    steps = 6
    frames, gif = endpoint("/interpolate", image_a=TSHIRT, image_b=TROUSERS, steps=steps, method="spherical",
                           model=MODEL)
    paths = gallery_paths(frames)
    assert len(paths) == steps
    arrs = [pixels(p) for p in paths]
    assert all(a.shape == (280, 280) for a in arrs)
    assert not np.array_equal(arrs[0], arrs[-1])
    want = ex.interpolate_images(m, TSHIRT, TROUSERS, steps, "spherical")["frames"]
    assert np.array_equal(arrs[0], np.asarray(want[0], dtype=np.int16))
    assert np.array_equal(arrs[-1], np.asarray(want[-1], dtype=np.int16))
    with Image.open(gif) as g:
        assert g.format == "GIF" and g.n_frames == 2 * steps - 2 and g.size == (280, 280)


def test_pick_returns_the_atlas_mean_and_its_decoding(endpoint, m):
    mu, path = endpoint("/pick", index=42, model=MODEL)
    assert mu == pytest.approx(m.atlas["mu"][42].tolist(), abs=1e-4)
    assert np.array_equal(pixels(path), np.asarray(ex.pick(m, 42)[1], dtype=np.int16))


@pytest.mark.parametrize("kwargs, api_name, message", [
    (dict(z=[0.0] * 3, model=MODEL), "/decode", "z has 3 values; this model expects 16"),
    (dict(z="not a vector", model=MODEL), "/decode", "z must be a list of numbers"),
    (dict(n=0, temperature=1.0, seed=0, model=MODEL), "/sample", r"minimum value 1|n must be a whole number"),
    (dict(n=2, temperature=-1.0, seed=0, model=MODEL), "/sample", r"minimum value 0|temperature must be"),
    (dict(image_a=TSHIRT, image_b=TROUSERS, steps=1, method="linear", model=MODEL),
     "/interpolate", "steps must be a whole number from 2 to 64"),
    (dict(image_a=TSHIRT, image_b=TROUSERS, steps=4, method="cubic", model=MODEL), "/interpolate", r"cubic"),
    (dict(index=10**7, model=MODEL), "/pick", "index must be a whole number from 0 to"),
    (dict(z=[0.0] * 16, model="../../etc"), "/decode",          # Gradio's choices (served), or our registry
     r"\.\./\.\./etc.*not in the list of choices|unknown model '\.\./\.\./etc'"),
    (dict(image=TSHIRT, model="../../etc"), "/encode", r"not in the list of choices|unknown model"),
    (dict(image=TSHIRT, models=[MODEL], seed=0), "/compare", "pick 2 to 4 models"),
    (dict(image=TSHIRT, models=[MODEL, "../../etc"], seed=0), "/compare", "unknown model"),
    (dict(image=TSHIRT, models=[MODEL, "fashion-mnist-2d"], seed=-1), "/compare", "seed"),
])
def test_bad_input_is_a_readable_gradio_error(endpoint, kwargs, api_name, message):
    with pytest.raises(endpoint.error, match=message):
        endpoint(api_name, **kwargs)


@pytest.mark.slow                                       # a server
def test_server_keeps_serving_after_errors(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError):
        client.predict(z=[0.0], model=MODEL, api_name="/decode")
    assert pixels(client.predict(z=[0.0] * 16, model=MODEL, api_name="/decode")).shape == (280, 280)


@pytest.mark.slow            # a server, and the measures take seconds per shipped model; fast: test_lab.py
def test_compare_returns_each_models_reconstruction_samples_and_figures(client):
    from gradio_client import handle_file

    names = ["fashion-mnist-2d-ae", "fashion-mnist-2d-vae"]
    r = client.predict(image=handle_file(TSHIRT), models=names, seed=3, api_name="/compare")
    assert list(r["models"]) == names and r["seed"] == 3
    ae, vae = r["models"]["fashion-mnist-2d-ae"], r["models"]["fashion-mnist-2d-vae"]
    assert ae["kind"] == "ae" and ae["kl_nats"] is None and vae["kl_nats"] > 0
    for v in (ae, vae):
        header, data = v["reconstruction"].split(",", 1)
        with Image.open(io.BytesIO(base64.b64decode(data))) as img:
            assert header == "data:image/png;base64" and img.size == (280, 280)
        assert v["samples"].startswith("data:image/png;base64,")
        assert 0 < v["sharp_recon"] < 1.5 and v["data_distance"] > 0
    assert ae["sample_shape_distance"] > vae["sample_shape_distance"]     # the autoencoder's draws are not clothes
    again = client.predict(image=handle_file(TSHIRT), models=names, seed=3, api_name="/compare")
    assert again == r                                          # same seed, same draws
