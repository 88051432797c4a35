"""The HTTP API through `gradio_client`, against the real app served on a free port (conftest's
`app_url`): the five endpoints of issue 3 with exactly their names and parameter names, images
returned as files, and bad input answered with a readable gradio error while the server keeps serving.
Results are cross-checked against the explorer called in-process on the same weights."""
import base64
import io
from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
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
}


def pixels(path) -> np.ndarray:
    p = Path(path)
    assert p.is_file(), path
    with Image.open(p) as img:
        assert img.format == "PNG"
        return np.asarray(img.convert("L"), dtype=np.int16)


def gallery_paths(value) -> list[str]:
    return [item["image"] if isinstance(item["image"], str) else item["image"]["path"] for item in value]


def test_endpoints_have_exactly_the_documented_names_and_parameters(client):
    api = client.view_api(return_format="dict", print_info=False)
    named = api["named_endpoints"]
    assert set(named) == set(ENDPOINTS)                       # the page's own events stay private
    for name, params in ENDPOINTS.items():
        assert [p["parameter_name"] for p in named[name]["parameters"]] == params, name
    choices = named["/decode"]["parameters"][1]["python_type"]["type"]
    assert MODEL in choices and "emoji" in choices


def test_decode_returns_the_decoded_image_as_a_file(client, m):
    z = [0.5] * m.dim
    path = client.predict(z=z, model=MODEL, api_name="/decode")
    arr = pixels(path)
    assert arr.shape == (280, 280)
    assert np.array_equal(arr, np.asarray(ex.decode(m, z), dtype=np.int16))
    other = client.predict(z=[-1.0] * m.dim, model=MODEL, api_name="/decode")
    assert not np.array_equal(pixels(other), arr)


def test_decode_other_model(client):
    path = client.predict(z=[0.0] * 32, model="emoji", api_name="/decode")
    with Image.open(path) as img:
        assert img.size == (256, 256) and img.mode == "RGB"


def test_encode_returns_reconstruction_and_elbo_terms(client, m):
    recon, info = client.predict(image=handle_file(TSHIRT), model=MODEL, api_name="/encode")
    assert pixels(recon).shape == (280, 280)
    for key in ("mu", "logvar", "recon", "kl", "elbo", "map_xy"):
        assert key in info, key
    assert len(info["mu"]) == len(info["logvar"]) == m.dim and len(info["map_xy"]) == 2
    assert info["elbo"] == pytest.approx(-(info["recon"] + info["kl"]), abs=2e-3)
    want = ex.encode(m, TSHIRT)
    assert info["mu"] == pytest.approx(want["mu"], abs=1e-4)
    assert info["kl"] == pytest.approx(want["kl"], abs=1e-2)
    assert np.array_equal(pixels(recon), np.asarray(want["recon_image"], dtype=np.int16))


def test_sample_returns_n_images_and_the_same_seed_gives_the_same_pixels(client, m):
    a = gallery_paths(client.predict(n=5, temperature=1.0, seed=11, model=MODEL, api_name="/sample"))
    b = gallery_paths(client.predict(n=5, temperature=1.0, seed=11, model=MODEL, api_name="/sample"))
    c = gallery_paths(client.predict(n=5, temperature=1.0, seed=12, model=MODEL, api_name="/sample"))
    assert len(a) == len(b) == len(c) == 5
    pa, pb, pc = ([pixels(p) for p in x] for x in (a, b, c))
    assert all(x.shape == (280, 280) for x in pa)
    assert all(np.array_equal(x, y) for x, y in zip(pa, pb, strict=True))
    assert not any(np.array_equal(x, y) for x, y in zip(pa, pc, strict=True))
    want, _ = ex.sample(m, 5, 1.0, 11)
    assert np.array_equal(pa[3], np.asarray(want[3], dtype=np.int16))
    zero = gallery_paths(client.predict(n=2, temperature=0.0, seed=3, model=MODEL, api_name="/sample"))
    origin = np.asarray(ex.decode(m, [0.0] * m.dim), dtype=np.int16)
    assert all(np.array_equal(pixels(p), origin) for p in zero)


def test_interpolate_returns_steps_frames_and_a_gif(client, m):
    steps = 6
    frames, gif = client.predict(image_a=handle_file(TSHIRT), image_b=handle_file(TROUSERS), steps=steps,
                                 method="spherical", model=MODEL, api_name="/interpolate")
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


def test_pick_returns_the_atlas_mean_and_its_decoding(client, m):
    mu, path = client.predict(index=42, model=MODEL, api_name="/pick")
    assert mu == pytest.approx(m.atlas["mu"][42].tolist(), abs=1e-4)
    assert np.array_equal(pixels(path), np.asarray(ex.pick(m, 42)[1], dtype=np.int16))


@pytest.mark.parametrize("kwargs, api_name, message", [
    (dict(z=[0.0] * 3, model=MODEL), "/decode", "z has 3 values; this model expects 16"),
    (dict(z="not a vector", model=MODEL), "/decode", "z must be a list of numbers"),
    (dict(n=0, temperature=1.0, seed=0, model=MODEL), "/sample", r"minimum value 1|n must be a whole number"),
    (dict(n=2, temperature=-1.0, seed=0, model=MODEL), "/sample", r"minimum value 0|temperature must be"),
    (dict(image_a=handle_file(TSHIRT), image_b=handle_file(TROUSERS), steps=1, method="linear", model=MODEL),
     "/interpolate", "steps must be a whole number from 2 to 64"),
    (dict(image_a=handle_file(TSHIRT), image_b=handle_file(TROUSERS), steps=4, method="cubic", model=MODEL),
     "/interpolate", r"cubic"),
    (dict(index=10**7, model=MODEL), "/pick", "index must be a whole number from 0 to"),
    (dict(z=[0.0] * 16, model="../../etc"), "/decode", r"\.\./\.\./etc.*(not in the list of choices|unknown model)"),
    (dict(image=handle_file(TSHIRT), model="../../etc"), "/encode", r"not in the list of choices|unknown model"),
    (dict(image=handle_file(TSHIRT), models=[MODEL], seed=0), "/compare", "pick 2 to 4 models"),
    (dict(image=handle_file(TSHIRT), models=[MODEL, "../../etc"], seed=0), "/compare", "unknown model"),
    (dict(image=handle_file(TSHIRT), models=[MODEL, "fashion-mnist-2d"], seed=-1), "/compare", "seed"),
])
def test_bad_input_is_a_readable_gradio_error(client, kwargs, api_name, message):
    with pytest.raises(AppError, match=message):
        client.predict(**kwargs, api_name=api_name)


def test_server_keeps_serving_after_errors(client):
    with pytest.raises(AppError):
        client.predict(z=[0.0], model=MODEL, api_name="/decode")
    assert pixels(client.predict(z=[0.0] * 16, model=MODEL, api_name="/decode")).shape == (280, 280)


def test_compare_returns_each_models_reconstruction_samples_and_figures(client):
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
