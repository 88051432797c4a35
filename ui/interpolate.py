"""The interpolate panel: walk from one image's mean to another's, live in the page (ui/walk.py: a
t-scrubber with linear beside spherical, |z| against the radius where the prior keeps its mass, the
paths on the map), and as a strip of frames and a looping GIF (linear or spherical) from the server."""
from __future__ import annotations

import gradio as gr

from model.nets.limits import MAX_STEPS
from model.serving import requests as ex
from model.serving.registry import ModelRegistry
from model.store.pictures import there_and_back

from . import text
from .files import gif_file, image_file, image_files, upload_path
from .server import ASSETS, user_errors
from .walk import WalkView

EMOJI_PAIRS = (("grinning-face", "frowning-face"), ("cat-face", "dog-face"), ("sun-with-face", "full-moon-with-face"))
DRAWN_PAIRS = (("tshirt", "trousers"), ("sneaker", "bag"))
FACES_PAIRS = (("grin", "frown"), ("surprised", "angry"))


def example_pairs() -> list[list[str]]:
    """Pairs of shipped example images: faces and emoji (for the colour models), then drawings (Fashion-MNIST)."""
    emoji, faces = ASSETS / "examples" / "emoji", ASSETS / "examples" / "faces"
    pairs = [[str(faces / f"{a}.png"), str(faces / f"{b}.png")] for a, b in FACES_PAIRS]
    pairs += [[str(emoji / f"{a}.png"), str(emoji / f"{b}.png")] for a, b in EMOJI_PAIRS
              if (emoji / f"{a}.png").exists()]
    return pairs + [[str(ASSETS / "examples" / f"drawn-{a}.png"), str(ASSETS / "examples" / f"drawn-{b}.png")]
                    for a, b in DRAWN_PAIRS]


def test_pair_files(m) -> list[str]:
    """The first and the last class's first test image, as files the image inputs can take."""
    gallery = ex.test_set_gallery(m, per_class=1)
    return [image_file(gallery[0][0]), image_file(gallery[-1][0])]


def image_pair() -> tuple[gr.Image, gr.Image]:
    """Images A and B: the page's, or /interpolate's hidden twins (the same names and checks)."""
    return tuple(gr.Image(label=f"image {x}", type="filepath", height=180, sources=["upload", "clipboard"])
                 for x in "AB")


def walk_controls() -> tuple[gr.Slider, gr.Radio]:
    return (gr.Slider(2, MAX_STEPS, value=10, step=1, label="steps (both ends included)"),
            gr.Radio(["linear", "spherical"], value="spherical", label="method"))


def walk_outputs(elem_ids: bool = False) -> tuple[gr.Gallery, gr.Image]:
    """The frames (PNG encodes ~7x faster than the default WebP here) and the GIF."""
    return (gr.Gallery(label="frames", columns=10, height=150, allow_preview=False, format="png",
                       elem_id="frames" if elem_ids else None),
            gr.Image(label="animated GIF (plays in a loop; download it)", type="filepath", height=200,
                     interactive=False, elem_id="gif" if elem_ids else None))


class InterpolatePanel:
    def __init__(self, registry: ModelRegistry, walk: WalkView | None = None) -> None:
        self.registry = registry
        self.walk_view = walk

    # ------------------------------------------------------------ handlers
    def walk(self, image_a, image_b, steps, method, model: str) -> tuple[list, str, dict]:
        """The frames, a GIF that plays them there and back, and the whole result (norms, radius)."""
        r = ex.interpolate_images(self.registry.get(model), upload_path(image_a), upload_path(image_b), steps, method)
        gif = gif_file(there_and_back(r["frames"]), duration=max(40, 1600 // len(r["frames"])))
        return r["frames"], gif, r

    @user_errors
    def on_interpolate(self, image_a, image_b, steps, method, model: str) -> dict:
        """The frames, the GIF and the live walk's endpoints, from one interpolation."""
        frames, gif, r = self.walk(image_a, image_b, steps, method, model)
        if r["ends"] == "draws":
            gr.Info(f"{model} has no encoder, so it cannot place the two images: this walk runs between two of "
                    f"its own draws z ~ N(0, I) (seed 0), decoded in the page like any model's.")
        return {self.frames: image_files(frames), self.gif: gif,
                self.walk_view.html: WalkView.value(self.registry.get(model), r)}

    @user_errors
    def test_pair(self, model: str) -> list[str]:
        return test_pair_files(self.registry.get(model))

    # ------------------------------------------------------------ layout and events
    def build(self, model_dd: gr.Dropdown, walk: dict | None = None) -> None:
        """walk: a lesson link's walk (WalkView.value), shown before any interpolation."""
        with gr.Row(equal_height=False):
            self.image_a, self.image_b = image_pair()
            with gr.Column():
                self.steps, self.method = walk_controls()
                button = gr.Button("Interpolate", variant="primary")
                pair_btn = gr.Button("Try two test images", size="sm")
        gr.Examples(example_pairs(), inputs=[self.image_a, self.image_b],
                    label="example pairs (the emoji pairs are for the emoji model)")
        walk = self.walk_view.build(walk)               # t-scrubber, lerp beside slerp, |z|, paths on the map
        self.frames, self.gif = walk_outputs(elem_ids=True)
        gr.Markdown(text.TEACH["interp"], elem_classes="teach")
        self.inputs = [self.image_a, self.image_b, self.steps, self.method, model_dd]
        button.click(self.on_interpolate, self.inputs, [self.frames, self.gif, walk],
                     api_visibility="private", preprocess=False)
        pair_btn.click(self.test_pair, model_dd, [self.image_a, self.image_b], api_visibility="private")
