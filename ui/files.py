"""The files the app hands to Gradio: every image and GIF a handler returns, written by us atomically under
a name made from its content, and Gradio's own cache in a private folder that goes away at exit; and the
uploads as the upload events receive them (never opened by Gradio)."""
from __future__ import annotations

import atexit
import contextlib
import hashlib
import io
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr
from PIL import Image

from model.store.pictures import write_gif


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
    """Every image and GIF the app returns, written by us: named by a hash of its bytes, written under a
    temporary name in the same folder and renamed into place (os.replace), never rewritten. Handlers
    return the path; Gradio copies the file into its own cache (save_file_to_cache: atomic, never
    rewrites a file it has) and serves that copy. Handing Gradio a PIL image instead makes it write
    the cache file itself with write_bytes, under a name that is also a hash of the bytes: identical
    requests at once truncate the file another request is serving (bench/race.py).

    One private temp folder, made on first use, removed when the process ends. A file is removed only
    after `max_age` seconds without being returned (returning an existing file touches it; the check,
    the touch, the rename and the pruning hold one lock), while Gradio copies a file within the
    request that returned it, so pruning never takes a file that a request still needs."""

    def __init__(self, max_age: float = 600.0, prune_every: float = 60.0) -> None:
        self.max_age, self.prune_every = max_age, prune_every
        self.lock = threading.Lock()
        self.dir: Path | None = None
        self.pruned = time.monotonic()
        self.closed = False

    def close(self) -> None:
        """The server is stopping: refuse new files, so that none appears after cleanup()."""
        with self.lock:
            self.closed = True

    def folder(self) -> Path:
        """The folder, made on first use (and again, if cleanup() ran). Call with the lock held."""
        if self.closed:                             # the request fails with a message, and no traceback
            raise gr.Error("the server is stopping", print_exception=False)
        if self.dir is None:
            self.dir = Path(tempfile.mkdtemp(prefix="vae-explorer-"))
            atexit.register(self.cleanup)
        self.dir.mkdir(parents=True, exist_ok=True)
        return self.dir

    def prune(self, now: float | None = None) -> int:
        """Remove the files not returned for max_age seconds (at most every prune_every seconds, unless
        `now` is given). Call with the lock held. Returns how many were removed."""
        if now is None:
            if time.monotonic() - self.pruned < self.prune_every:
                return 0
            self.pruned, now = time.monotonic(), time.time()
        removed = 0
        with os.scandir(self.folder()) as entries:
            for e in entries:
                with contextlib.suppress(OSError):
                    if e.stat().st_mtime < now - self.max_age:
                        os.unlink(e.path)
                        removed += 1
        return removed

    def write(self, data: bytes, suffix: str, stem: str = "") -> str:
        """The path of a file holding exactly `data`: the existing one (touched) or a new one, renamed
        into place whole. A stem (a download's name) goes before a shorter hash."""
        digest = hashlib.sha256(data).hexdigest()
        name = (f"{stem}-{digest[:12]}" if stem else digest[:40]) + suffix
        with self.lock:
            path = self.folder() / name
            self.prune()
            try:
                os.utime(path)                       # returned again: kept another max_age
                return str(path)
            except FileNotFoundError:
                pass
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            return str(path)

    def png(self, image: Image.Image) -> str:
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return self.write(buf.getvalue(), ".png")

    def gif(self, frames: list[Image.Image], duration: int) -> str:
        buf = io.BytesIO()
        write_gif(frames, buf, duration)
        return self.write(buf.getvalue(), ".gif")

    def cleanup(self) -> None:
        locked = self.lock.acquire(timeout=5)      # a write in flight ends in milliseconds; never hang the exit
        try:
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
        finally:
            if locked:
                self.lock.release()


OUTPUTS = OutputFiles()          # makes no folder until a file is written


def image_file(image: Image.Image) -> str:
    """An image as the path handlers return for gr.Image and gr.Gallery outputs (see OutputFiles)."""
    return OUTPUTS.png(image)


def image_files(images) -> list[str]:
    return [OUTPUTS.png(im) for im in images]


def zip_file(data: bytes, stem: str) -> str:
    """A zip to download, named stem-HASH.zip (see OutputFiles)."""
    return OUTPUTS.write(data, ".zip", stem)


def csv_file(data: bytes, stem: str) -> str:
    """A CSV to download, named stem-HASH.csv (see OutputFiles)."""
    return OUTPUTS.write(data, ".csv", stem)


def gif_file(frames: list[Image.Image], duration: int) -> str:
    """A looping GIF of the frames, as a path (see OutputFiles)."""
    return OUTPUTS.gif(frames, duration)


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
