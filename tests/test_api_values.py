"""API values: latent vectors with NaN/inf/huge values, wrong lengths, out-of-range
n/steps/temperature/seed/index, and model names that are paths. Checked at the explorer (every
public function), at the endpoints' handlers, and through the served app when slow (gradio_client,
and raw HTTP for NaN/inf, which gradio_client will not send)."""
import io
import json
import math
import sys

import numpy as np
import pytest
from PIL import Image

from model.nets.limits import MAX_SAMPLES, MAX_SEED, MAX_STEPS, MAX_TEMPERATURE, SLIDER_LIMIT
from model.serving import requests as ex

BAD_NAMES = ["../../etc", "/etc/passwd", "weights", "", ".", "..", "fashion-mnist/../emoji",
             "../weights/fashion-mnist", "emoji\x00", "FASHION-MNIST", None, 3, ["fashion-mnist"]]


def pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("L"), dtype=np.int16)


# ---------------------------------------------------------------- latent vectors
def test_nan_latent_refused(m):
    for bad in ([math.nan] + [0.0] * (m.dim - 1), [0.0] * (m.dim - 1) + [float("nan")]):
        with pytest.raises(ex.ExplorerError, match="NaN"):
            ex.decode(m, bad)
        with pytest.raises(ex.ExplorerError, match="NaN"):
            ex.place(m, bad)


def test_inf_and_huge_latent_clamped_to_slider_range(m):
    edge = [SLIDER_LIMIT, -SLIDER_LIMIT] + [0.0] * (m.dim - 2)
    want = pixels(ex.decode(m, edge))
    for z in ([math.inf, -math.inf] + [0.0] * (m.dim - 2), [1e300, -1e300] + [0.0] * (m.dim - 2),
              [1e6, -5.0] + [0.0] * (m.dim - 2)):
        assert np.array_equal(pixels(ex.decode(m, z)), want), z
    assert ex.place(m, [1e300] * m.dim) == ex.place(m, [SLIDER_LIMIT] * m.dim)
    assert not np.array_equal(pixels(ex.decode(m, [0.0] * m.dim)), want)       # the clamp is visible


def test_wrong_length_names_the_expected_length(m):
    for n in (0, 1, m.dim - 1, m.dim + 1, 1000):
        with pytest.raises(ex.ExplorerError, match=f"has {n} values; this model expects {m.dim}"):
            ex.decode(m, [0.0] * n)
    with pytest.raises(ex.ExplorerError, match=f"expects {m.dim}"):
        ex.reparameterize(m, [0.0] * m.dim, [0.0] * (m.dim + 2), 0)


@pytest.mark.parametrize("z", ["hello", {"a": 1}, [[0.0, "x"]], [None, "1"], object()])
def test_non_numeric_latent_refused(m, z):
    with pytest.raises(ex.ExplorerError):
        ex.decode(m, z)


def test_reparameterize_logvar_checked(m):
    mu = [0.0] * m.dim
    with pytest.raises(ex.ExplorerError, match="NaN"):
        ex.reparameterize(m, mu, [math.nan] * m.dim, 0)
    with pytest.raises(ex.ExplorerError, match="list of numbers"):
        ex.reparameterize(m, mu, ["a"] * m.dim, 0)
    r = ex.reparameterize(m, mu, [1e30] * m.dim, 0)          # clamped to [-30, 20]: finite z
    assert all(math.isfinite(v) for v in r["z"])
    assert np.allclose(r["z"], np.exp(10.0) * np.asarray(r["eps"]), rtol=1e-3)


# ---------------------------------------------------------------- integer / float ranges
@pytest.mark.parametrize("n", [0, -1, MAX_SAMPLES + 1, 10**9, 2.5, math.nan, math.inf, "x", None])
def test_sample_n_out_of_range(m, n):
    with pytest.raises(ex.ExplorerError, match=f"n must be a whole number from 1 to {MAX_SAMPLES}"):
        ex.sample(m, n, 1.0, 0)


@pytest.mark.parametrize("t", [-0.01, MAX_TEMPERATURE + 0.01, 1e9, math.nan, math.inf, -math.inf, "hot", None])
def test_temperature_out_of_range(m, t):
    with pytest.raises(ex.ExplorerError, match="temperature must be a number from 0"):
        ex.sample(m, 2, t, 0)


@pytest.mark.parametrize("seed", [-1, MAX_SEED + 1, 2**64, 0.5, math.nan, "seed"])
def test_seed_out_of_range(m, seed):
    with pytest.raises(ex.ExplorerError, match=f"seed must be a whole number from 0 to {MAX_SEED}"):
        ex.sample(m, 2, 1.0, seed)
    with pytest.raises(ex.ExplorerError, match="seed"):
        ex.reparameterize(m, [0.0] * m.dim, [0.0] * m.dim, seed)
    with pytest.raises(ex.ExplorerError, match="seed"):
        ex.random_latent(m, seed)


def test_range_edges_accepted(m):
    images, z = ex.sample(m, MAX_SAMPLES, MAX_TEMPERATURE, MAX_SEED)
    assert len(images) == MAX_SAMPLES and z.shape == (MAX_SAMPLES, m.dim)
    images, z = ex.sample(m, 1, 0.0, 0)
    assert len(images) == 1 and np.all(z == 0)
    images, _ = ex.sample(m, 3.0, 1, "7")                    # whole floats / numeric strings are fine
    assert len(images) == 3


@pytest.mark.parametrize("steps", [1, 0, -3, MAX_STEPS + 1, 10**6, 3.5, math.nan])
def test_interpolation_steps_out_of_range(m, steps):
    img = Image.new("L", (28, 28), 0)
    with pytest.raises(ex.ExplorerError, match=f"steps must be a whole number from 2 to {MAX_STEPS}"):
        ex.interpolate_images(m, img, img, steps, "linear")


def test_interpolation_method_checked(m):
    img = Image.new("L", (28, 28), 0)
    with pytest.raises(ex.ExplorerError, match="method must be 'linear' or 'spherical'"):
        ex.interpolate_images(m, img, img, 5, "cubic; rm -rf /")


def test_index_out_of_range(m):
    n = len(m.atlas["mu"])
    for i in (-1, n, n + 1, 10**12, 1.5, math.nan, math.inf, "first", None):
        with pytest.raises(ex.ExplorerError, match=f"index must be a whole number from 0 to {n - 1}"):
            ex.pick(m, i)
        with pytest.raises(ex.ExplorerError, match="index"):
            ex.hover_card(m, i)
    mu, _ = ex.pick(m, n - 1)
    assert len(mu) == m.dim


# ---------------------------------------------------------------- model names
@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_model_names_that_are_not_listed_are_refused(registry, name):
    with pytest.raises(ex.ExplorerError, match="unknown model") as info:
        registry.get(name)
    assert "choose one of: " + ", ".join(registry.names()) in str(info.value)


def test_bad_model_names_open_no_file(registry):
    """An audit hook records every file opened while bad names are tried: none is."""
    opened, active = [], [True]

    def hook(event, args):
        if active[0] and event == "open":
            opened.append(str(args[0]))

    sys.addaudithook(hook)          # cannot be removed; it goes quiet when active[0] is False
    try:
        m = registry.get(registry.default())
        for name in BAD_NAMES:
            for call in (lambda name=name: ex.decode(registry.get(name), [0.0] * m.dim),
                         lambda name=name: ex.sample(registry.get(name), 2, 1.0, 0)):
                with pytest.raises(ex.ExplorerError):
                    call()
    finally:
        active[0] = False
    assert opened == []


def test_registry_lists_only_model_folders(registry, weights_root):
    names = registry.names()
    assert names and all("/" not in n and not n.startswith(".") for n in names)
    assert all((weights_root / n / "config.json").is_file() for n in names)


# ---------------------------------------------------------------- through the served app
def _call_raw(app_url: str, api: str, body: str) -> dict:
    """POST /gradio_api/call/<api> with a raw JSON body (NaN/Infinity literals allowed), read the
    event stream; returns {"event": ..., "data": ...}."""
    import httpx

    r = httpx.post(f"{app_url}gradio_api/call/{api}", content=body,
                   headers={"content-type": "application/json"}, timeout=30)
    r.raise_for_status()
    stream = httpx.get(f"{app_url}gradio_api/call/{api}/{r.json()['event_id']}", timeout=60).text
    event = data = None
    for line in stream.splitlines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data = line.split(":", 1)[1].strip()
    return {"event": event, "data": json.loads(data) if data and data != "null" else data}


def _image_bytes(app_url, result) -> np.ndarray:
    import httpx

    url = result[0]["url"]
    assert url.startswith(app_url.rstrip("/"))
    return np.asarray(Image.open(io.BytesIO(httpx.get(url, timeout=30).content)).convert("L"))


@pytest.mark.slow              # JSON's NaN and Infinity as a client sends them; fast: test_nan_latent_refused
def test_served_nan_refused_inf_clamped(app_url, m):
    zeros = ",".join(["0"] * (m.dim - 1))
    out = _call_raw(app_url, "decode", f'{{"data": [[NaN,{zeros}], "{m.name}"]}}')
    assert out["event"] == "error" and "NaN" in out["data"]["error"]
    want = _call_raw(app_url, "decode", f'{{"data": [[{SLIDER_LIMIT},{zeros}], "{m.name}"]}}')
    assert want["event"] == "complete"
    for lit in ("Infinity", "1e999", "1e300"):
        got = _call_raw(app_url, "decode", f'{{"data": [[{lit},{zeros}], "{m.name}"]}}')
        assert got["event"] == "complete", (lit, got)
        assert np.array_equal(_image_bytes(app_url, got["data"]), _image_bytes(app_url, want["data"]))


@pytest.mark.slow              # Gradio's own range checks, then ours; fast: the explorer's tests above
def test_served_values_refused_with_messages(client, m):
    cases = [
        (("/decode", [0.0] * (m.dim + 3), m.name), f"expects {m.dim}"),
        (("/decode", "hello", m.name), "list of numbers"),
        (("/sample", 0, 1.0, 0, m.name), "minimum"),
        (("/sample", MAX_SAMPLES + 1, 1.0, 0, m.name), "maximum"),
        (("/sample", 2.5, 1.0, 0, m.name), "n must be a whole number"),
        (("/sample", 2, MAX_TEMPERATURE + 1, 0, m.name), "maximum"),
        (("/sample", 2, 1.0, -1, m.name), "minimum"),
        (("/sample", 2, 1.0, MAX_SEED + 1, m.name), "maximum"),
        (("/pick", -1, m.name), "index must be a whole number"),
        (("/pick", 10**9, m.name), "index must be a whole number"),
    ]
    for (api, *args), expected in cases:
        with pytest.raises(Exception) as info:
            client.predict(*args, api_name=api)
        assert expected in str(info.value), (api, args, str(info.value))
    images = client.predict(2, 1.0, 0, m.name, api_name="/sample")      # still serving
    assert len(images) == 2


@pytest.mark.parametrize("name", ["../../etc", "/etc/passwd", "weights"])
def test_endpoints_refuse_model_names_that_are_paths(endpoint, name, tmp_path, m):
    with pytest.raises(endpoint.error) as info:
        endpoint("/decode", z=[0.0] * m.dim, model=name)
    assert "not in the list of choices" in str(info.value) or "unknown model" in str(info.value)
    img = tmp_path / "x.png"
    Image.new("L", (28, 28), 0).save(img)
    with pytest.raises(endpoint.error) as info:          # /encode takes the raw value: our registry refuses
        endpoint("/encode", image=img, model=name)
    assert "unknown model" in str(info.value) or "not in the list of choices" in str(info.value)
