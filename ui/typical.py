"""Is this typical?: one image's −ELBO and complexity-corrected score read against the model's test
set, a verdict in words, the two test distributions with the image marked, and the anomaly map; the lesson
"likelihood can mislead" with one-click examples; and a whole folder scored into a table and a CSV.

The numbers come from model.serving.typicality: every path (an upload, an example, a test image, the API)
reduces the input to the model's own uint8 pixels first and scores those, as the sketch pad's server
function does (ui/sketch.py), so the same pixels give the same numbers everywhere.
"""
from __future__ import annotations

import functools

import gradio as gr
import numpy as np
import pandas as pd
from PIL import Image

from model.data import stroke_digits
from model.nets.limits import ExplorerError
from model.serving import requests as ex
from model.serving import typicality as st
from model.serving.registry import LoadedModel, ModelRegistry
from model.store.pictures import DISPLAY_SIZE, png_data_url, uint8_image

from . import text
from .charts import typicality_figure
from .encode import examples, selected_image, thumbnails, your_image
from .files import csv_file, image_file, upload_path
from .server import ASSETS, user_errors

LESSON = (("digit", "a handwritten digit"), ("blank", "a blank image"), ("noise", "uniform noise"),
          ("emoji", "an emoji in grey"))
DIGIT = 7                        # a 7 drawn as pen strokes (model.data.stroke_digits), as on the sketch pad
NOISE_SEED = 0
EMOJI = ASSETS / "examples" / "emoji" / "grinning-face.png"      # rendered from Noto Color Emoji, shipped
TABLE_HEADERS = ["picture", "file", "−ELBO (nats)", "−ELBO: more unusual than (%)", "score (nats)",
                 "score: more unusual than (%)"]
TABLE_TYPES = ["markdown", "str", "number", "number", "number", "number"]
SKIPPED_SHOWN = 20


def lesson_picture(m: LoadedModel, which: str) -> Image.Image:
    """The lesson's example as a picture in the model's own convention (ink opposite its background): the
    Encode tab's preprocessing fits it to the model like any upload. Deterministic: the same picture each time."""
    picture = _lesson_picture(m, which)
    f = max(1, DISPLAY_SIZE // max(picture.size))          # shown large and crisp; box-averaged back exactly
    return picture.resize((picture.width * f, picture.height * f), Image.NEAREST)


def _lesson_picture(m: LoadedModel, which: str) -> Image.Image:
    c = m.config
    n, white = c.image_size, c.background == "white"
    if which == "digit":
        grey = np.asarray(stroke_digits(DIGIT + 1, seed=0, size=n)[DIGIT])
        return Image.fromarray(255 - grey if white else grey)
    if which == "blank":
        return Image.fromarray(np.full((n, n), 255 if white else 0, np.uint8))
    if which == "noise":
        shape = (n, n, 3) if c.channels == 3 else (n, n)
        return Image.fromarray(np.random.default_rng(NOISE_SEED).integers(0, 256, shape, dtype=np.uint8))
    if which == "emoji":
        with Image.open(EMOJI) as im:
            return im.convert("L")                 # grey on white; a light-on-dark model sees it inverted
    raise ExplorerError(f"no lesson example {which!r}")


def table_frame(rows: list[dict]) -> pd.DataFrame:
    """The folder check's rows (least typical first) as the table: a thumbnail (a PNG data URL in a
    Markdown image), the file name as text, both scores and their percentiles."""
    data = [[f"![]({png_data_url(st.thumbnail(r['pixels']))})", r["file"], r["neg_elbo"], r["neg_elbo_percentile"],
             r["score"], r["score_percentile"]] for r in rows]
    return pd.DataFrame(data, columns=TABLE_HEADERS)


def folder_summary(rows: list[dict], skipped: list[tuple[str, str]]) -> str:
    line = f"**{len(rows)} images scored**, least typical first (by the corrected score)."
    if skipped:
        shown = "\n".join(f"- {name}: {why}" for name, why in skipped[:SKIPPED_SHOWN])
        more = f"\n- … and {len(skipped) - SKIPPED_SHOWN} more (all in the CSV)" if len(skipped) > SKIPPED_SHOWN else ""
        line += f"\n\n**Skipped {len(skipped)}:**\n{shown}{more}"
    return line


class TypicalPanel:
    """The tab's layout and events; its handlers are also what /typicality and /typicality_batch run."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    # ------------------------------------------------------------ one image
    def judged(self, model: str, image, iwae: bool = True, heat: bool = True) -> tuple[LoadedModel, np.ndarray, dict]:
        """An upload scored: the model, its pixels (C, H, W) uint8 and judge_pixels' result."""
        m = self.registry.get(model)
        st.reference(m)                                         # no likelihood, or no test distribution: say so
        x8 = st.pixels_of(ex.load_upload(m, upload_path(image)))[0]
        return m, x8, st.judge_pixels(m, x8, iwae=iwae, heat=heat)

    def cleared(self, message: str) -> dict:
        return {self.verdict: message, self.numbers: "", self.plot: None, self.model_input: None, self.heat: None}

    @user_errors
    def on_image(self, image, model: str) -> dict:
        """Everything the tab shows for one image. A model that cannot judge says why, as text."""
        if not upload_path(image):
            return self.cleared(text.TYPICAL_FIRST)
        why = st.cannot_judge(self.registry.get(model))
        if why:
            return self.cleared(why)
        m, x8, r = self.judged(model, image)
        return {self.verdict: text.typical_markdown(r), self.numbers: text.typical_numbers(r),
                self.plot: self.figure(m, r), self.model_input: image_file(uint8_image(x8, DISPLAY_SIZE)),
                self.heat: image_file(st.heat_image(m, x8, r["map"]))}

    @staticmethod
    def figure(m: LoadedModel, r: dict):
        ref = st.reference(m)
        return typicality_figure([
            ("−ELBO of the 8-bit image", st.histogram_of(ref["neg_elbo_quantiles"]), r["neg_elbo"],
             r["neg_elbo_percentile"]),
            ("corrected score: −ELBO − WebP length", st.histogram_of(ref["score_quantiles"]), r["score"],
             r["score_percentile"])])

    def api_typicality(self, image, model: str) -> dict:
        """/typicality: the numbers and the verdict (IWAE included), no pictures."""
        return st.public(self.judged(model, image, heat=False)[2])

    # ------------------------------------------------------------ the lesson
    @user_errors
    def lesson(self, which: str, model: str) -> str:
        """A lesson example as a file for the image input (whose change event judges it)."""
        return image_file(lesson_picture(self.registry.get(model), which))

    @user_errors
    def lesson_comparison(self, model: str) -> str:
        """All four examples side by side: their raw and corrected percentiles."""
        m = self.registry.get(model)
        why = st.cannot_judge(m)
        if why:
            return why
        rows = []
        for which, label in LESSON:
            x8 = st.pixels_of(ex.load_upload(m, image_file(lesson_picture(m, which))))[0]
            rows.append((label, st.judge_pixels(m, x8, heat=False)))
        return text.lesson_table(rows)

    # ------------------------------------------------------------ a folder
    def scored(self, files, model: str, progress=None) -> tuple[list[dict], list[tuple[str, str]], str]:
        """The uploads (files and zips) scored: rows least typical first, the skipped files, the CSV's path."""
        m = self.registry.get(model)
        rows, skipped = st.judge_files(m, [upload_path(f) for f in files or []], progress)
        return rows, skipped, csv_file(st.csv_bytes(rows, skipped), f"typicality-{m.name}")

    @user_errors
    def on_files(self, files, model: str, progress=gr.Progress()) -> tuple:  # noqa: B008
        """The folder check: the table, the CSV to download, and what was skipped and why."""
        if not files:
            return table_frame([]), gr.update(value=None, visible=False), text.FOLDER_FIRST
        why = st.cannot_judge(self.registry.get(model))
        if why:
            return table_frame([]), gr.update(value=None, visible=False), why
        progress(0, desc="reading the images")
        rows, skipped, csv = self.scored(files, model, lambda f: progress(f, desc="scoring the images"))
        return table_frame(rows), gr.update(value=csv, visible=True), folder_summary(rows, skipped)

    def api_batch(self, images, model: str) -> tuple[list[dict], str]:
        """/typicality_batch: the rows (no pixels), least typical first, and the CSV file."""
        rows, _, csv = self.scored(images, model)
        return [{k: v for k, v in r.items() if k != "pixels"} for r in rows], csv

    # ------------------------------------------------------------ a new model
    def note(self, m: LoadedModel) -> str:
        return st.cannot_judge(m) or text.reference_note(m, st.reference(m))

    def refresh(self, model: str) -> dict:
        """A new model: what its percentiles are read against (or why it has none), its test images; the
        folder's results belong to the old model, so they go (the image is judged again: see build)."""
        m = self.registry.get(model)
        return {self.note_md: self.note(m), self.gallery: gr.update(value=thumbnails(m)), self.files: None,
                self.table: table_frame([]), self.csv: gr.update(value=None, visible=False),
                self.folder_info: text.FOLDER_FIRST, self.comparison: ""}

    # ------------------------------------------------------------ layout and events
    def build(self, model_dd: gr.Dropdown, default: LoadedModel) -> None:
        gr.Markdown(text.TEACH["typical"], elem_classes="teach")
        self.note_md = gr.Markdown(self.note(default), elem_id="typical-note")
        with gr.Row(equal_height=False):
            with gr.Column(scale=2):
                self.image = your_image(elem_id="typical-image")
                if examples():
                    gr.Examples(examples(), inputs=self.image, label="examples (drawings on white)")
                gr.Markdown("**or a test-set image:**")
                self.gallery = gr.Gallery(thumbnails(default), show_label=False, columns=5, height=170,
                                          allow_preview=False, object_fit="contain", interactive=False,
                                          elem_id="typical-gallery")
            with gr.Column(scale=3):
                self.verdict = gr.Markdown(text.TYPICAL_FIRST, elem_id="typical-verdict")
                with gr.Row():
                    self.model_input = gr.Image(label="what the model sees", type="filepath", interactive=False,
                                                height=230, buttons=["download"], elem_id="typical-input")
                    self.heat = gr.Image(label="where the model disagrees", type="filepath",
                                         interactive=False, height=230, buttons=["download"], elem_id="typical-map")
                self.numbers = gr.Markdown("", elem_id="typical-numbers")
        self.plot = gr.Plot(label="the test set's scores, and this image", show_label=False, elem_id="typical-plot")
        with gr.Accordion("Likelihood can mislead: the lesson", open=True, elem_id="typical-lesson"):
            gr.Markdown(text.LESSON)
            with gr.Row():
                buttons = {which: gr.Button(label, size="sm", elem_id=f"typical-{which}") for which, label in LESSON}
                compare = gr.Button("All four side by side", size="sm", variant="primary",
                                    elem_id="typical-compare")
            self.comparison = gr.Markdown("", elem_id="typical-comparison")
        with gr.Accordion("Check a whole folder", open=True, elem_id="typical-folder"):
            self.files = gr.File(file_count="multiple", file_types=["image", ".zip"], type="filepath",
                                 label="many images, or one zip", height=140, elem_id="typical-files")
            self.folder_info = gr.Markdown(text.FOLDER_FIRST, elem_id="typical-folder-info")
            self.csv = gr.File(label="the table as CSV", visible=False, elem_id="typical-csv")
            self.table = gr.Dataframe(table_frame([]), headers=TABLE_HEADERS, datatype=TABLE_TYPES,
                                      interactive=False, max_height=480, elem_id="typical-table")
        self.refresh_outputs = [self.note_md, self.gallery, self.files, self.table, self.csv, self.folder_info,
                                self.comparison]
        self._wire(model_dd, buttons, compare)

    def _wire(self, model_dd: gr.Dropdown, buttons: dict, compare: gr.Button) -> None:
        private = {"api_visibility": "private"}
        shown = [self.verdict, self.numbers, self.plot, self.model_input, self.heat]
        # uploads reach the handlers as Gradio's file data (preprocess=False, see files.upload_path)
        self.image.change(self.on_image, [self.image, model_dd], shown, preprocess=False, **private)
        model_dd.change(self.on_image, [self.image, model_dd], shown, preprocess=False, **private)
        self.gallery.select(selected_image, self.gallery, self.image, **private)
        for which, button in buttons.items():
            button.click(functools.partial(self.lesson, which), model_dd, self.image, **private)
        compare.click(self.lesson_comparison, model_dd, self.comparison, **private)
        self.files.change(self.on_files, [self.files, model_dd], [self.table, self.csv, self.folder_info],
                          preprocess=False, **private)
