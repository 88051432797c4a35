"""How the page is served: theme and CSS, safe launch defaults, errors users see, files we write for
Gradio to serve, a private cache that goes away at exit, and the process's memory habits."""
from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import hashlib
import io
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr
import plotly
import torch
from PIL import Image

from model.nets.limits import ExplorerError
from model.nets.pictures import write_gif
from model.nets.weights import WeightsError

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

    def write(self, data: bytes, suffix: str) -> str:
        """The path of a file holding exactly `data`: the existing one (touched) or a new one, renamed
        into place whole."""
        name = hashlib.sha256(data).hexdigest()[:40] + suffix
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


SHUTDOWN_GRACE_S = 2.0       # after Ctrl-C, responses in flight get this long before they are cut off
SHUTDOWN_FINISH_S = 3.0      # then the server thread this long to end: handlers running at that moment return


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def serve_until_interrupted(demo: gr.Blocks) -> None:
    """Block until Ctrl-C (or SIGTERM), then stop within a few seconds (stop); a second Ctrl-C cuts off
    the requests in flight at once instead of giving them SHUTDOWN_GRACE_S.

    Gradio's own wait (Blocks.block_thread) only closes uvicorn: the queue keeps starting jobs, and
    uvicorn waits for every open connection (the event streams of queued jobs, heartbeats) until
    Gradio gives up joining its thread after 5 s; jobs still running then write into the cache while
    it is being removed, leaving files behind. Here: our file writer refuses new files, demo.close()
    stops the queue and the heartbeats, and uvicorn's timeout_graceful_shutdown cancels whatever has
    not finished after SHUTDOWN_GRACE_S. The caller removes the temp folders afterwards (app.py:
    private_cache)."""
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main else None
    try:
        try:
            while demo.is_running:
                time.sleep(0.1)
        except KeyboardInterrupt:
            pass
        print(f"Stopping: requests in flight get {SHUTDOWN_GRACE_S:g} s (Ctrl-C again to cut them off)...",
              file=sys.stderr, flush=True)
        try:
            stop(demo)
        except KeyboardInterrupt:
            stop(demo, grace=0.0)
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def stop(demo: gr.Blocks, grace: float = SHUTDOWN_GRACE_S) -> None:
    """Stop serving: no new files, no new jobs, responses in flight cut off after `grace` seconds (with
    grace 0, uvicorn skips every wait). Bounded: Gradio joins its server thread for at most 5 s, then
    we wait SHUTDOWN_FINISH_S more. Only once that thread has ended can nothing copy a file into
    Gradio's cache any more (it copies in the event loop), so the caller removes the folders after."""
    OUTPUTS.close()
    server = getattr(demo, "server", None)            # Gradio's uvicorn.Server (None with no local server)
    if server is not None:
        if grace > 0:
            server.config.timeout_graceful_shutdown = grace
        else:
            server.force_exit = True
    demo.close(verbose=False)
    thread = getattr(server, "thread", None)
    if thread is not None and thread.is_alive():
        server.force_exit = True
        thread.join(SHUTDOWN_FINISH_S)


def theme() -> gr.themes.Base:
    """Local fonts only: the page must work with no internet."""
    return gr.themes.Soft(primary_hue="blue", font=["system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
                          font_mono=["ui-monospace", "Menlo", "Consolas", "monospace"])


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int | None = None, share: bool = False,
           auth: tuple[str, str] | None = None, prevent_thread_lock: bool = False, **kwargs):
    """Serve with the app's theme, CSS and safe defaults (local only, size-limited uploads); unless
    prevent_thread_lock, block until Ctrl-C and stop (serve_until_interrupted)."""
    # Each request is a tiny batch. Alone, one torch thread is as fast as all cores; when the queue runs
    # 4 at once or other processes share the CPU, threads fanning out per request made decode 5-20x
    # slower (measured on 2 cores while training ran; see BENCHMARKS.md).
    torch.set_num_threads(1)
    limit_malloc_arenas()
    trim_malloc_every()
    out = demo.launch(server_name=host, server_port=port, share=share, auth=auth, theme=theme(),
                      css=(ASSETS / "style.css").read_text(), max_file_size=MAX_FILE_SIZE, ssr_mode=False,
                      footer_links=["api"], prevent_thread_lock=True, **kwargs)
    if not prevent_thread_lock:
        serve_until_interrupted(demo)
    return out
