"""How the page is served: theme and CSS, safe launch defaults, errors users see, files we write for
Gradio to serve, a private cache that goes away at exit, and the process's memory habits."""
from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import gradio as gr
import plotly
import torch
from PIL import Image

from model.checks import ExplorerError
from model.images import write_gif
from model.io import WeightsError

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
MAX_FILE_SIZE = "10mb"


def bind(fn, *args):
    """fn with its first arguments fixed, keeping fn's name: for gr.HTML's server_functions, which are
    named after the function and marked with an attribute (a bound method cannot take one)."""
    bound = functools.partial(fn, *args)
    bound.__name__ = fn.__name__
    return bound


def user_errors(fn):
    """Turn the explorer's refusals into a gr.Error the page shows; the server keeps serving."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ExplorerError, WeightsError) as e:
            raise gr.Error(str(e)) from None
    return wrapper


def upload_path(value):
    """An uploaded image as the upload events receive it: they run with preprocess=False, so Gradio
    never opens the file itself (its Image preprocessing would decode any format Pillow knows, convert
    to RGB, dropping alpha and 16-bit depth, and fail on a bad file with a generic error); the value
    is Gradio's file data, already checked to lie in its upload cache. Our loader (allowed formats,
    pixel limit) opens the path."""
    if isinstance(value, dict):
        return value.get("path")
    return value


class OutputFiles:
    """Files the app writes for Gradio to serve (GIFs, example pairs): one private temp folder, made
    on first use, pruned to the newest few, removed when the process ends. Gradio copies what it
    serves into its own cache, so pruning ours never breaks a download."""

    def __init__(self, keep: int = 32) -> None:
        self.keep = keep
        self.lock = threading.Lock()
        self.dir: Path | None = None

    def new_path(self, suffix: str) -> Path:
        with self.lock:
            if self.dir is None:
                self.dir = Path(tempfile.mkdtemp(prefix="vae-explorer-"))
                atexit.register(self.cleanup)
            self.dir.mkdir(parents=True, exist_ok=True)          # again, if cleanup() ran
            files = sorted(self.dir.glob("*"), key=lambda p: p.stat().st_mtime)
            for old in files[: max(0, len(files) - self.keep + 1)]:
                old.unlink(missing_ok=True)
            return self.dir / f"{uuid.uuid4().hex}{suffix}"

    def gif(self, frames: list[Image.Image], duration: int) -> str:
        path = self.new_path(".gif")
        write_gif(frames, path, duration)
        return str(path)

    def png(self, image: Image.Image) -> str:
        path = self.new_path(".png")
        image.save(path)
        return str(path)

    def cleanup(self) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)


OUTPUTS = OutputFiles()          # makes no folder until a file is written


@contextlib.contextmanager
def private_cache():
    """Gradio's cache (uploads, served outputs) in a folder of this run's own, removed afterwards.
    Gradio's own shutdown (delete_cache) waits for open client streams and is cut off after 5 s, so
    files in its shared cache stay behind; with GRADIO_TEMP_DIR, its public setting, nothing does.
    Set before build_demo: Gradio 6.31 reads it when each component is created. A GRADIO_TEMP_DIR the
    user set is where the private folder goes."""
    before = os.environ.get("GRADIO_TEMP_DIR")
    if before:
        os.makedirs(before, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="vae-explorer-cache-", dir=before or None)
    os.environ["GRADIO_TEMP_DIR"] = folder
    try:
        yield Path(folder)
    finally:
        if before is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = before
        shutil.rmtree(folder, ignore_errors=True)
        OUTPUTS.cleanup()


def limit_malloc_arenas(n: int = 2) -> None:
    """glibc gives each thread that allocates under contention its own malloc arena and keeps their
    memory: Gradio's worker threads then hold ~20 MB more after the first requests than with two
    shared arenas (bench/memory.py). Same as MALLOC_ARENA_MAX=2; a no-op off glibc."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, n)             # -8: M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def trim_malloc_every(seconds: float = 10.0) -> None:
    """A daemon thread that hands glibc's freed heap pages back to the OS (malloc_trim) every few
    seconds: requests allocate and free images and tensors of many sizes, and the freed pages
    otherwise stay in the process as RSS (bench/memory.py). A no-op off glibc."""
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return

    def loop():
        while True:
            time.sleep(seconds)
            trim(0)
    threading.Thread(target=loop, name="malloc-trim", daemon=True).start()


def theme() -> gr.themes.Base:
    """Local fonts only: the page must work with no internet."""
    return gr.themes.Soft(primary_hue="blue", font=["system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
                          font_mono=["ui-monospace", "Menlo", "Consolas", "monospace"])


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int | None = None, share: bool = False,
           auth: tuple[str, str] | None = None, **kwargs):
    """Serve with the app's theme, CSS and safe defaults (local only, size-limited uploads)."""
    # Each request is a tiny batch. Alone, one torch thread is as fast as all cores; when the queue runs
    # 4 at once or other processes share the CPU, threads fanning out per request made decode 5-20x
    # slower (measured on 2 cores while training ran; see BENCHMARKS.md).
    torch.set_num_threads(1)
    limit_malloc_arenas()
    trim_malloc_every()
    return demo.launch(server_name=host, server_port=port, share=share, auth=auth, theme=theme(),
                       css=(ASSETS / "style.css").read_text(), max_file_size=MAX_FILE_SIZE, ssr_mode=False,
                       footer_links=["api"], **kwargs)
