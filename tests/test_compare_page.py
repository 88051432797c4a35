"""What the Compare tab sends the page (Compare in ≤ 3 s in the page): the training snapshots as
compact arrays, not a Plotly figure per frame; the clouds as a figure's JSON with typed arrays; what depends
only on the model, or on the model and the seed, computed once. The time itself is bench/compare_page.py's."""
import base64
import json

import numpy as np
import pytest

from model.serving import side_by_side as cmp
from ui.charts import PALETTE
from ui.compare import DEFAULT_MODELS, ComparePanel


def array(typed: dict, shape) -> np.ndarray:
    """A plotly.js typed array ({dtype, bdata}) back as numpy."""
    return np.frombuffer(base64.b64decode(typed["bdata"]), dtype="<" + typed["dtype"]).reshape(shape)


@pytest.fixture(scope="module")
def trio(registry):
    return cmp.pick_models(registry, list(DEFAULT_MODELS))


def test_the_animation_payload_holds_every_snapshot_as_arrays_and_no_frames(registry, trio):
    payload = ComparePanel(registry).organise(trio)
    steps = payload["frames"]
    assert steps == min(len(m.snapshots()["step"]) for m in trio) >= 30
    assert len(payload["layout"]["sliders"][0]["steps"]) == steps          # the slider names every snapshot
    assert "data" not in payload and payload["palette"] == list(PALETTE)
    arrays = 0
    for m, p in zip(trio, payload["panels"], strict=True):
        snap = m.snapshots()
        n = len(snap["index"])
        mu = array(p["mu"], (steps, n, 2)).astype(np.float32) * p["scale"]
        np.testing.assert_allclose(mu, snap["mu"][:steps].astype(np.float32), atol=p["scale"])   # every point
        labels = m.atlas["labels"][snap["index"]]
        assert (array(p["colour"], (n,)) == labels % len(PALETTE)).all()
        arrays += steps * n * 2 * 2
    size = len(json.dumps(payload))
    # base64 of the int16 means (4/3 of their bytes) and the small rest: a figure per frame, with its traces'
    # numbers and colours written out per snapshot, was 4.98 MB for these three models
    assert size <= arrays * 4 / 3 * 1.05 + 64_000, size
    assert size < 1_500_000


def test_the_animation_payload_is_prepared_once_per_model(trio):
    for m in trio:
        assert cmp.organising(m) is cmp.organising(m)


def test_the_clouds_are_a_figures_json_with_typed_arrays_and_one_map_per_2d_model(registry, trio):
    plot = ComparePanel(registry).clouds(trio)
    fig = json.loads(plot.plot)
    assert plot.type == "plotly" and len(plot.plot) < 400_000            # 625 kB with the numbers written out
    assert [a["text"] for a in fig["layout"]["annotations"]] == list(DEFAULT_MODELS)
    axes = {(t["xaxis"], t["yaxis"]) for t in fig["data"]}
    assert axes == {("x", "y"), ("x2", "y2"), ("x3", "y3")}
    assert all(isinstance(t["x"], dict) and set(t["x"]) == {"dtype", "bdata"} for t in fig["data"])
    vae = trio[1]
    assert not any(t.get("fill") for t in fig["data"] if t["xaxis"] == "x")       # the autoencoder: points only
    c = cmp.clouds(vae)
    ellipses = [t for t in fig["data"] if t["xaxis"] == "x2" and t.get("fill")]
    assert len(ellipses) == len(c["classes"])
    x = array(ellipses[0]["x"], (-1,))
    first = c["mu"][c["labels"] == 0][0]
    outline = x[:np.flatnonzero(np.isnan(x))[0]]                      # one test image's mu ± 2 sigma, NaN-separated
    sigma = c["sigma"][c["labels"] == 0][0]
    assert outline.max() == pytest.approx(first[0] + 2 * sigma[0], abs=1e-4)
    legend = [t["name"] for t in fig["data"] if t["showlegend"]]
    assert legend == ["prior N(0, I): 2σ", *c["classes"]]                # named once, by the first map


def test_draws_are_kept_per_model_and_seed(registry):
    m = registry.get("fashion-mnist-2d-vae")
    first = cmp.draws(m, 12345)
    assert cmp.draws(m, 12345) is first                               # the same seed: kept, not drawn again
    assert np.asarray(cmp.draws(m, 12346)).tolist() != np.asarray(first).tolist()
    for seed in range(cmp.SEEDS_KEPT + 2):
        cmp.draws(m, seed)
    assert len(m.cache["draws"]) == cmp.SEEDS_KEPT                    # bounded
    assert np.array_equal(np.asarray(cmp.draw_grid(m, 3, 16)), np.asarray(cmp.draws(m, 3)))


def test_compare_fills_every_output_with_the_gan_and_the_vq_vae(registry):
    """The handler the page calls, on the issue's second set: one 2-D model with snapshots among three."""
    import gradio as gr

    from ui.interpolate import example_pairs

    panel = ComparePanel(registry)
    with gr.Blocks():
        panel.build()
    a, b = next(p for p in example_pairs() if "drawn-" in p[0])
    out = panel.on_compare(a, b, ["fashion-mnist-2d-vae", "fashion-mnist-vq", "fashion-mnist-gan"], 7)
    values = {k: out[c] for k, c in panel.outputs.items()}
    assert len(values["samples"]) == 3 and len(values["recon"]) == 3      # the input + two encoders
    organise = values["organise"]
    assert len(organise["panels"]) == 1 and organise["layout"]["annotations"][0]["text"].startswith(
        "fashion-mnist-2d-vae")
    assert [a["text"] for a in json.loads(values["clouds"].plot)["layout"]["annotations"]] == ["fashion-mnist-2d-vae"]
