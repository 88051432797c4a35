"""How the page is served: theme and CSS, safe launch defaults, errors users see, Ctrl-C, and the
process's memory habits. The files the app writes for Gradio to serve are ui/files.py's; the cache headers
and compression of what the page loads are ui/wire.py's, installed here."""
from __future__ import annotations

import ctypes
import functools
import signal
import sys
import threading
import time
from pathlib import Path

import gradio as gr
import plotly
import torch
from starlette.middleware import Middleware

from model.nets.limits import ExplorerError
from model.store.onnx import cache_root
from model.store.weights import WeightsError

from .files import OUTPUTS
from .wire import WireMiddleware

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
ORT_VERSION = "1.30.0"           # the vendored ONNX Runtime Web (tools/vendor_onnxruntime_web.sh): its folder,
ORT_DIR = ASSETS / "vendor" / "onnxruntime-web" / ORT_VERSION   # so its URL, names the version
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


def limit_malloc_arenas(n: int = 2) -> None:
    """glibc gives each thread that allocates under contention its own malloc arena and keeps their
    memory: Gradio's worker threads then hold ~20 MB more after the first requests than with two
    shared arenas (bench/memory.py). Same as MALLOC_ARENA_MAX=2; a no-op off glibc."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, n)             # -8: M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def release_memory() -> None:
    """Hand glibc's freed heap pages back to the OS now (malloc_trim): the registry calls it when it lets a
    model go (ui/page.py), so that loading and evicting models one after another leaves RSS flat
    (bench/many_models.py) instead of drifting up by the fragments of each model. A no-op off glibc."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
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
    OUTPUTS.close()                                   # ui/files.py: no new files from now on
    server = getattr(demo, "server", None)            # Gradio's uvicorn.Server (None with no local server)
    if server is not None:
        if grace > 0:
            server.config.timeout_graceful_shutdown = grace
        else:
            server.force_exit = True
    demo.close(verbose=False)
    service = getattr(demo, "training_service", None)   # live-training workers keep their checkpoints
    if service is not None:
        service.shutdown()
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
    # files named by their content (the runtime's version, the weights' hash) are cached for good (ui/wire.py)
    wire = Middleware(WireMiddleware, immutable=[ORT_DIR, cache_root() / "onnx"])
    out = demo.launch(server_name=host, server_port=port, share=share, auth=auth, theme=theme(),
                      css=(ASSETS / "style.css").read_text(), max_file_size=MAX_FILE_SIZE, ssr_mode=False,
                      footer_links=["api"], prevent_thread_lock=True, app_kwargs={"middleware": [wire]}, **kwargs)
    if not prevent_thread_lock:
        serve_until_interrupted(demo)
    return out
