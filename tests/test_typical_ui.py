"""The "Is this typical?" tab, the Encode tab's typicality line, the sketch pad's live verdict and the two
endpoints, as the page and the API wire them: handlers called as plain methods (fast), and the pad's
verdict following a drawing in Chromium (browser, slow). The scores themselves are tests/test_typicality.py's."""
import base64
import csv
import io
import zipfile
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from model.nets.limits import ExplorerError
from model.serving import requests as ex
from model.serving import typicality as st
from ui import text
from ui.encode import EncodePanel, thumbnails
from ui.explore import ExplorePanel
from ui.page import ModelSwitch
from ui.runtime import PageRuntime
from ui.sketch import TYPICAL_DELAY_MS, SketchView
from ui.typical import TABLE_HEADERS, TypicalPanel, lesson_picture

ROOT = Path(__file__).resolve().parents[1]
TSHIRT = str(ROOT / "assets" / "examples" / "drawn-tshirt.png")
MODEL, AE = "fashion-mnist", "fashion-mnist-2d-ae"
API_KEYS = {"neg_elbo", "neg_elbo_percentile", "iwae", "score", "score_percentile", "verdict"}


@pytest.fixture(scope="module")
def built(registry):
    """The tab, the Encode tab and the sketch pad built in a page (not served): their handlers return
    {component: update} for the components build() made."""
    m = registry.get(MODEL)
    runtime = PageRuntime(registry)
    typical, encode, sketch = TypicalPanel(registry), EncodePanel(registry, ExplorePanel(registry, runtime)), \
        SketchView(registry, runtime)
    with gr.Blocks():
        model_dd, info = gr.Dropdown(registry.names(), value=MODEL), gr.Markdown()
        encode.explore.build(model_dd, m)
        encode.build(model_dd, m)
        sketch.build(m)
        typical.build(model_dd, m)
    return typical, encode, sketch, info


@pytest.fixture(scope="module")
def panel(built) -> TypicalPanel:
    return built[0]


def upload(path) -> dict:
    """A file as the upload events receive it (preprocess=False: Gradio's file data)."""
    return {"path": str(path), "meta": {"_type": "gradio.FileData"}}


def judged_pixels(m, path) -> dict:
    """What the model side says of a file, fitted as any upload is."""
    return st.judge_pixels(m, st.pixels_of(ex.load_upload(m, path))[0], heat=False)


# ---------------------------------------------------------------- one image, and the lesson
@pytest.mark.parametrize("which", ["blank", "noise"])
def test_the_lessons_blank_and_noise_are_unusual(panel, registry, which):
    path = panel.lesson(which, MODEL)                       # the example fills the input...
    out = panel.on_image(upload(path), MODEL)               # ... whose change event judges it
    assert "unusual for this model" in out[panel.verdict]
    want = judged_pixels(registry.get(MODEL), path)
    assert want["score_percentile"] >= 95
    assert f"{want['score']:.1f}" in out[panel.numbers] and f"{want['neg_elbo']:.1f}" in out[panel.numbers]


def test_a_test_image_is_typical_with_its_numbers_histograms_and_map(panel, registry):
    m = registry.get(MODEL)
    path = thumbnails(m)[0][0]                              # the tab's first test image (a T-shirt)
    out = panel.on_image(upload(path), MODEL)
    assert out[panel.verdict].startswith("**typical of what this model was trained on")
    r = judged_pixels(m, path)
    numbers = out[panel.numbers]
    assert f"| {r['neg_elbo']:.1f} | more unusual than {text.share(r['neg_elbo_percentile'])} of the test images" \
        in numbers
    assert f"IWAE bound, k = 100 (Burda et al. 2015) | {r['iwae']:.1f}" in numbers
    fig = out[panel.plot]
    bars = [t for t in fig.data if t.type == "bar"]
    assert len(bars) == 2 and all(abs(sum(b.y) - 100) < 1 for b in bars)     # the test set's shares, in %
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert sorted(round(s.x0, 2) for s in lines) == sorted([r["neg_elbo"], r["score"]])   # this image, marked
    with Image.open(out[panel.heat]) as heat, Image.open(out[panel.model_input]) as seen:
        assert heat.width == 280 and heat.height > 280                  # the map, crisp, and its legend under it
        assert seen.size == (280, 280)


def test_the_lesson_examples_are_what_the_model_sees_in_its_convention(panel, registry):
    from model.data import stroke_digits

    grey = registry.get(MODEL)
    digit = np.asarray(lesson_picture(grey, "digit"))
    assert digit.shape == (280, 280) and digit.max() > 200 and digit[0, 0] == 0       # light ink on black, large
    seen = st.pixels_of(ex.load_upload(grey, panel.lesson("digit", MODEL)))[0]
    assert np.array_equal(seen[0], np.asarray(stroke_digits(8)[7]))                  # exactly the drawn 7
    assert np.asarray(lesson_picture(grey, "blank")).max() == 0
    noise = np.asarray(lesson_picture(grey, "noise"))
    assert np.array_equal(noise, np.asarray(lesson_picture(grey, "noise"))) and noise.std() > 60
    assert lesson_picture(grey, "emoji").mode == "L"                                  # an emoji in grey
    emoji = registry.get("emoji")                                                     # colour, on white
    assert np.asarray(lesson_picture(emoji, "digit"))[0, 0] == 255
    assert np.asarray(lesson_picture(emoji, "noise")).shape == (256, 256, 3)


def test_all_four_lesson_examples_side_by_side(panel):
    table = panel.lesson_comparison(MODEL)
    rows = [line for line in table.splitlines() if line.startswith("| a") or line.startswith("| uniform")]
    assert [r.split(" | ")[0] for r in rows] == ["| a handwritten digit", "| a blank image", "| uniform noise",
                                                 "| an emoji in grey"]
    assert "| a blank image |" in table and "very unusual for this model" in table


# ---------------------------------------------------------------- a model that cannot judge
def test_an_autoencoder_says_it_has_no_likelihood_as_text(panel, built, registry):
    out = panel.refresh(AE)
    assert "no likelihood" in out[panel.note_md] and "autoencoder" in out[panel.note_md]
    shown = panel.on_image(upload(TSHIRT), AE)              # text in the verdict's place, not an error
    assert "no likelihood" in shown[panel.verdict] and shown[panel.plot] is None
    _, encode, sketch, _ = built
    assert "no likelihood" in encode.on_upload(upload(TSHIRT), AE)[encode.typical]
    assert "no likelihood" in sketch.value(registry.get(AE))["typical"]["note"]
    assert "no likelihood" in panel.lesson_comparison(AE)


def test_switching_model_refreshes_the_tab(panel, built, registry):
    _, _, _, info = built
    switch = ModelSwitch(registry, info, [panel])
    out = switch.on_model(MODEL)
    assert set(out) == set(switch.outputs)
    assert out[panel.note_md].startswith(f"Percentiles are read against {MODEL}'s ")
    assert out[panel.files] is None and out[panel.csv]["visible"] is False and len(out[panel.table]) == 0
    assert len(out[panel.gallery]["value"]) == len(thumbnails(registry.get(MODEL)))


# ---------------------------------------------------------------- the Encode tab and the sketch pad
def test_the_encode_tab_says_how_typical_the_same_pixels_are(built, registry):
    _, encode, _, _ = built
    out = encode.on_upload(upload(TSHIRT), MODEL)
    r = judged_pixels(registry.get(MODEL), TSHIRT)
    line = out[encode.typical]
    assert line.startswith("**How typical is it?** " + r["verdict"])
    assert f"raw −ELBO: more unusual than {text.share(r['neg_elbo_percentile'])} of the test images" in line
    assert out[encode.info]["mu"] == ex.encode(registry.get(MODEL), TSHIRT)["mu"]     # the encoding unchanged


def b64(x: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(x, dtype=np.uint8).tobytes()).decode("ascii")


def test_the_pads_verdict_is_the_apis_for_the_same_pixels(built, api, registry, tmp_path):
    _, _, sketch, _ = built
    px = np.zeros((28, 28), np.uint8)
    px[5:23, 11:17] = 255                                   # a trouser-like bar
    got = sketch.typicality_pixels([MODEL, b64(px)])
    Image.fromarray(px, "L").save(tmp_path / "drawn.png")
    want = api.endpoints()["typicality"](upload(tmp_path / "drawn.png"), MODEL)
    for key in ("neg_elbo", "neg_elbo_percentile", "score", "score_percentile", "verdict"):
        assert got[key] == want[key], key
    assert got["line"] == f"how typical is it: {text.typical_line(got)}"
    assert sketch.value(registry.get(MODEL))["typical"] == {"delay_ms": TYPICAL_DELAY_MS, "note": None}
    assert sketch.typicality_pixels([AE, b64(px)])["note"].startswith("how typical is it: ")


@pytest.mark.parametrize("bad", [None, [MODEL], [MODEL, "not base64!"], [MODEL, b64(np.zeros(27 * 28))],
                                 ["../../etc", b64(np.zeros(28 * 28))]])
def test_the_pads_typicality_refuses_anything_but_the_models_pixels(built, bad):
    with pytest.raises(ExplorerError):
        built[2].typicality_pixels(bad)


# ---------------------------------------------------------------- a folder
def folder_zip(path: Path, images: np.ndarray, bad: dict) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for i, x8 in enumerate(images):
            buf = io.BytesIO()
            Image.fromarray(x8[0]).save(buf, format="PNG")
            z.writestr(f"shirts/{i:02d}.png", buf.getvalue())
        for name, data in bad.items():
            z.writestr(name, data)
    return path


def test_the_folder_check_gives_a_sorted_table_a_csv_and_the_skipped_files(panel, registry, tmp_path):
    m = registry.get(MODEL)
    images = np.concatenate([m.atlas["thumbnails"][:6], np.zeros((1, 1, 28, 28), np.uint8)])   # and a blank one
    bad = {"empty.png": b"", "notes.txt": b"hello", "broken.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 40}
    z = folder_zip(tmp_path / "folder.zip", images, bad)
    table, download, summary = panel.on_files([upload(z)], MODEL)
    assert list(table.columns) == TABLE_HEADERS and len(table) == 7
    scores = table["score (nats)"].tolist()
    assert scores == sorted(scores, reverse=True)                       # least typical first
    assert table["file"].iloc[0].endswith("06.png")                     # the blank one
    assert all(cell.startswith("![](data:image/png;base64,") for cell in table["picture"])
    assert "**7 images scored**" in summary and "**Skipped 3:**" in summary
    for name in bad:
        assert name in summary
    assert download["visible"] is True
    with open(download["value"], newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0][:2] == ["file", "neg_elbo_nats"] and len(lines) == 1 + 7 + 3
    assert [row[0] for row in lines[1:8]] == table["file"].tolist()


def test_the_folder_check_states_its_limit(panel, monkeypatch, tmp_path, registry):
    monkeypatch.setattr(st, "MAX_BATCH", 3)
    z = folder_zip(tmp_path / "many.zip", registry.get(MODEL).atlas["thumbnails"][:5], {})
    with pytest.raises(gr.Error, match="5 images; a folder check takes at most 3"):
        panel.on_files([upload(z)], MODEL)
    table, download, summary = panel.on_files(None, MODEL)
    assert len(table) == 0 and download["visible"] is False and summary == text.FOLDER_FIRST


# ---------------------------------------------------------------- the API
def test_typicality_returns_exactly_its_keys(endpoint, registry):
    r = endpoint("/typicality", image=TSHIRT, model=MODEL)
    assert set(r) == API_KEYS
    want = judged_pixels(registry.get(MODEL), TSHIRT)
    assert r == {k: want[k] for k in API_KEYS}
    assert r["iwae"] <= r["neg_elbo"] + 1e-3                           # the tighter bound
    with pytest.raises(endpoint.error, match="no likelihood"):
        endpoint("/typicality", image=TSHIRT, model=AE)


def test_typicality_batch_returns_rows_and_the_csv(endpoint, tmp_path, registry):
    z = folder_zip(tmp_path / "folder.zip", registry.get(MODEL).atlas["thumbnails"][:4], {"bad.png": b"nope"})
    rows, path = endpoint("/typicality_batch", images=[z, TSHIRT], model=MODEL)
    assert len(rows) == 5 and all(set(row) == {"file", "neg_elbo", "neg_elbo_percentile", "score",
                                               "score_percentile"} for row in rows)
    assert [row["score"] for row in rows] == sorted((row["score"] for row in rows), reverse=True)
    text_csv = Path(path).read_text()
    assert text_csv.startswith("file,neg_elbo_nats") and "bad.png" in text_csv and "drawn-tshirt.png" in text_csv


# ---------------------------------------------------------------- the pad's verdict in Chromium
LINE_JS = """() => { const el = document.querySelector('#sketch .vae-sketch-typical');
    return {text: el.textContent, for: el.dataset.for ? +el.dataset.for : null, verdict: el.dataset.verdict || null,
            neg: el.dataset.negPercentile ? +el.dataset.negPercentile : null,
            score: el.dataset.scorePercentile ? +el.dataset.scorePercentile : null,
            encodes: VAE.sketch.encodes, asked: VAE.sketch.asked, pixels: VAE.state.sketch.pixels}; }"""
JUDGED_LATEST = ("() => { const el = document.querySelector('#sketch .vae-sketch-typical');"
                 " return el.dataset.for !== undefined && +el.dataset.for === VAE.sketch.encodes; }")


@pytest.mark.browser
@pytest.mark.slow
def test_drawing_on_the_pad_updates_its_verdict(open_page, app_url, registry):
    """The line under the pad follows the drawing: the server's verdict for the very pixels the page encoded,
    asked far less often than the page encodes (at most every 400 ms), and nothing else is asked."""
    from conftest import server_requests
    from test_sketch import draw, open_draw_tab, settled, work_requests

    page = open_draw_tab(open_page, app_url)
    page.wait_for_function(JUDGED_LATEST)                   # the empty pad is judged once it is encoded
    before = page.evaluate(LINE_JS)
    sent = len(page.requests)
    draw(page)
    settled(page)
    page.wait_for_function(JUDGED_LATEST)
    after = page.evaluate(LINE_JS)
    assert after["for"] > before["for"] and sum(after["pixels"]) > sum(before["pixels"]) == 0
    r = st.judge_pixels(registry.get(MODEL), np.asarray(after["pixels"], np.uint8).reshape(1, 28, 28),
                        iwae=False, heat=False)            # the same pixels, judged here
    assert after["text"] == f"how typical is it: {text.typical_line(r)}"
    assert (after["verdict"], after["neg"], after["score"]) == (r["verdict"], r["neg_elbo_percentile"],
                                                                r["score_percentile"])
    asked = [u for u in server_requests(page, sent) if u.endswith("#typicality_pixels")]
    assert 1 <= len(asked) == after["asked"] - before["asked"] < after["encodes"] - before["encodes"]
    assert work_requests(page, sent) == []                  # the drawing itself is encoded in the page
    assert page.problems == []


# ---------------------------------------------------------------- the words say the code's numbers
def test_the_iwae_row_names_the_k_the_bound_is_computed_with(monkeypatch):
    r = {"neg_elbo": 300.0, "neg_elbo_percentile": 40.0, "score": -20.0, "score_percentile": 50.0,
         "complexity": 320.0, "iwae": 295.0, "iwae_percentile": None, "model_neg_elbo": 250.0}
    from model.analysis.typicality import IWAE_K
    assert f"IWAE bound, k = {IWAE_K} " in text.typical_numbers(r)
    monkeypatch.setattr(text, "IWAE_K", 7)
    assert "IWAE bound, k = 7 " in text.typical_numbers(r)
