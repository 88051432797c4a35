"""Attribute directions (White 2016): the maths, their place in the atlas (every other key
kept), the checked request, and /attribute (called directly, and through gradio_client when slow) with
bad input refused."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.analysis.attributes import FASHION_PAIRS, class_directions, least_squares_directions, store_directions
from model.nets.walk import add_attribute
from model.serving import requests as ex
from model.store.weights import ATLAS_NAME, ATTRIBUTE_KEYS, directions, load_atlas, save_atlas

MODEL = "fashion-mnist"
NAME = "Sneaker to Ankle boot"


def test_least_squares_direction_raises_the_fitted_factor_by_one_per_unit():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(2000, 6)).astype(np.float32)
    w = np.array([[1.5, 0, 0, -0.5, 0, 0], [0, 0, 2, 0, 0, 0]], dtype=np.float64)
    factors = mu @ w.T + 0.3 + 0.01 * rng.normal(size=(2000, 2))
    v = least_squares_directions(mu, factors)
    assert v.shape == (2, 6)
    for k in range(2):
        cos = v[k] @ w[k] / np.linalg.norm(v[k]) / np.linalg.norm(w[k])
        assert cos > 0.999                                       # it points along the true weights
        assert (mu[:5] + v[k]) @ w[k] - mu[:5] @ w[k] == pytest.approx(np.ones(5), abs=0.01)


def test_class_direction_walks_from_one_class_mean_to_the_other():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(3), 50)
    mu = rng.normal(size=(150, 4)).astype(np.float32) + labels[:, None] * 2.0
    found = class_directions(mu, labels, ("a", "b", "c"), pairs=(("a", "c"), ("a", "x")))
    assert found["names"] == ["a to c"]                         # a pair with a missing class is skipped
    start = mu[labels == 0].mean(0)
    assert np.allclose(add_attribute(start, found["vectors"][0], 1.0), mu[labels == 2].mean(0), atol=1e-5)


def test_stored_directions_keep_every_other_key_and_shared_thumbnails(tmp_path):
    rng = np.random.default_rng(2)
    base = {"mu": rng.normal(size=(8, 3)).astype(np.float32), "labels": np.arange(8) % 2,
            "thumb_index": np.arange(4, dtype=np.int32), "thumbnails": np.zeros((4, 1, 8, 8), np.uint8)}
    save_atlas(tmp_path / "owner", **base)
    save_atlas(tmp_path / "twin", **{k: v for k, v in base.items() if k != "thumbnails"},
               thumbnails_from=np.array("owner"), someone_elses_key=np.arange(3))
    found = {"names": ["up"], "vectors": np.ones((1, 3), np.float32), "notes": ["a note"]}
    store_directions(tmp_path / "twin", found)
    with np.load(tmp_path / "twin" / ATLAS_NAME) as raw:
        assert set(raw.files) == {"mu", "labels", "thumb_index", "thumbnails_from", "someone_elses_key",
                                  *ATTRIBUTE_KEYS}              # thumbnails still live in the owner only
    atlas = load_atlas(tmp_path / "twin")
    assert np.array_equal(atlas["mu"], base["mu"]) and np.array_equal(atlas["someone_elses_key"], np.arange(3))
    assert list(directions(atlas)) == ["up"] and directions({}) == {}


def test_shipped_models_carry_their_directions(registry):
    fashion = directions(registry.get(MODEL).atlas)
    assert set(fashion) == {f"{a} to {b}" for a, b in FASHION_PAIRS}
    assert all(v.shape == (16,) and np.isfinite(v).all() for v in fashion.values())
    assert list(directions(registry.get("emoji").atlas)) == ["smile"]


def test_attribute_request_adds_amount_times_the_direction(m):
    z = np.linspace(-1, 1, m.dim)
    image, new = ex.attribute(m, z.tolist(), NAME, 0.5)
    v = directions(m.atlas)[NAME]
    assert np.allclose(new, z + 0.5 * v, atol=1e-3)
    assert np.array_equal(np.asarray(image), np.asarray(ex.decode(m, new)))
    _, same = ex.attribute(m, z.tolist(), NAME, 0)
    assert np.allclose(same, z, atol=1e-4)


@pytest.mark.parametrize("name, amount, message", [
    ("smile", 1.0, "unknown attribute 'smile' for fashion-mnist: choose one of T-shirt/top to Shirt"),
    (None, 1.0, "unknown attribute"),
    (NAME, float("nan"), "amount must be a number from -3.0 to 3.0"),
    (NAME, 50, "amount must be a number from -3.0 to 3.0, got 50"),
    (NAME, "lots", "amount must be a number"),
])
def test_attribute_request_refuses_bad_names_and_amounts(m, name, amount, message):
    with pytest.raises(ex.ExplorerError, match=message):
        ex.attribute(m, [0.0] * m.dim, name, amount)


def test_attribute_endpoint_returns_the_decoded_image_and_the_new_z(endpoint, m):
    z = [0.25] * m.dim
    path, new = endpoint("/attribute", z=z, name=NAME, amount=1.5, model=MODEL)
    want_image, want_z = ex.attribute(m, z, NAME, 1.5)
    assert new == pytest.approx(want_z, abs=1e-4)
    with Image.open(path) as img:
        assert img.format == "PNG" and np.array_equal(np.asarray(img.convert("L")), np.asarray(want_image))


@pytest.mark.parametrize("kwargs, message", [
    (dict(name="frown", amount=1.0), "unknown attribute 'frown'"),
    (dict(name=NAME, amount=7.0), "amount must be a number from -3.0 to 3.0"),
    (dict(name=NAME, amount=1.0, z=[0.0] * 3), "z has 3 values"),
])
def test_attribute_endpoint_refuses_bad_input_with_a_message(endpoint, kwargs, message):
    args = dict(z=[0.0] * 16, model=MODEL) | kwargs
    with pytest.raises(endpoint.error, match=message):
        endpoint("/attribute", **args)
    assert Path(endpoint("/decode", z=[0.0] * 16, model=MODEL)).is_file()   # still serving


def test_the_page_gets_every_direction_and_one_slider_each(registry):
    import gradio as gr

    from ui.explore import MAX_ATTRIBUTES, ExplorePanel
    from ui.runtime import PageRuntime

    panel, m = ExplorePanel(registry, PageRuntime(registry)), registry.get(MODEL)
    with gr.Blocks():
        panel.build(gr.Dropdown([MODEL], value=MODEL), m)
    sent = panel.live_value(m, [0.0] * m.dim)["attributes"]          # live.js adds amount * v in the page
    assert [a["name"] for a in sent] == list(directions(m.atlas))
    assert np.allclose(sent[1]["v"], directions(m.atlas)[sent[1]["name"]], atol=1e-5)
    shown = panel.refresh(m.name)[panel.sliders]                       # what assets/sliders.js builds
    assert "White 2016" in shown["note"] and "*" not in shown["note"]     # set as text: no markdown left in it
    assert 0 < len(shown["attributes"]) <= MAX_ATTRIBUTES
    assert [a["name"] for a in shown["attributes"]] == [a["name"] for a in sent]
    assert shown["range"] == 2.0


@pytest.mark.browser
def test_an_attribute_slider_moves_z_in_the_page_with_no_request(open_page, app_url, client, m):
    """The page adds amount * v itself: the painted z equals /attribute's new z, and no request is sent."""
    page = open_page(app_url)
    names = page.eval_on_selector_all(".attrslider", "els => els.filter(e => e.offsetParent).map(e => e.id)")
    assert names == [f"attr-{i}" for i in range(len(FASHION_PAIRS))]
    before, n, sent = page.evaluate("Array.from(VAE.state.z)"), page.evaluate("VAE.stats.paints"), len(page.requests)
    rng = page.locator(f"#attr-{FASHION_PAIRS.index(('Sneaker', 'Ankle boot'))} input[type=range]")
    rng.focus()
    rng.press("End")                                                    # amount -> +2, an `input` event
    page.wait_for_function("n => VAE.stats.paints > n", arg=n)
    painted = page.evaluate("Array.from(VAE.state.z)")
    _, want = client.predict(z=before, name=NAME, amount=2.0, model=MODEL, api_name="/attribute")
    assert painted == pytest.approx(want, abs=1e-3)
    # no request that makes the server work (the page's static files, such as the classifier that names the
    # decoded image, may still be arriving)
    assert [u for u in page.requests[sent:] if "/gradio_api/" in u and "/gradio_api/file=" not in u] == []
    shown = page.eval_on_selector_all(".zslider input[type=number]",
                                      "els => els.filter(e => e.offsetParent).map(e => parseFloat(e.value))")
    dims = m.dims_by_kl(32)
    assert shown == pytest.approx([want[d] for d in dims], abs=0.051)   # the latent sliders follow, to their step
    assert page.problems == []


def test_the_commands_refuse_a_missing_or_unsuitable_folder_in_one_line(tmp_path, capsys, weights_root):
    from model.analysis import attributes, disentangle
    from model.data.faces import build_faces

    build_faces(tmp_path / "faces", n=4, n_test=3)
    assert attributes.main([str(tmp_path / "missing")]) == 2
    assert disentangle.main([str(weights_root / "fashion-mnist"), "--data-dir", str(tmp_path / "faces")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[0].startswith("error: ") and "atlas.npz: missing" in err[0]
    assert "its atlas holds 10000 means, the faces test set 3" in err[1]
