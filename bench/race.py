"""Gradio 6.31's race on identical outputs, reproduced with a bare app and gradio_client.

    python bench/race.py [--threads 16] [--requests 10]

A handler that returns a PIL image makes Gradio write it with processing_utils.save_pil_to_cache:
the file is named by a hash of its bytes and rewritten with write_bytes on every call, so when many
requests return the same image, one request truncates the file while another is serving it. The
client sees `RemoteProtocolError: peer closed connection without sending complete message body` or
an empty file. Returning a file path instead goes through save_file_to_cache, which writes a new
copy under a temporary name, renames it into place and never rewrites one that exists: no failure.
Our app returns paths (ui/server.py OutputFiles). Prints the failed downloads per endpoint.
"""
import argparse
import logging
import os
import shutil
import sys
import tempfile
import threading

TMP = tempfile.mkdtemp(prefix="bench-race-")         # Gradio's cache, the client's downloads, our file
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ["GRADIO_TEMP_DIR"] = os.path.join(TMP, "gradio")
tempfile.tempdir = TMP

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
from gradio_client import Client  # noqa: E402
from PIL import Image  # noqa: E402

IMAGE = Image.fromarray((np.random.default_rng(0).random((28, 28)) * 255).astype(np.uint8)).resize((280, 280))
PATH = os.path.join(TMP, "same.png")
IMAGE.save(PATH)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=16)
    p.add_argument("--requests", type=int, default=10, help="per thread")
    a = p.parse_args(argv)
    with gr.Blocks() as demo:
        out = gr.Image(type="pil", format="png")
        gr.Button().click(lambda: IMAGE, None, out, api_name="pil")     # Gradio writes the file: races
        gr.Button().click(lambda: PATH, None, out, api_name="path")     # we hand Gradio a file: safe
    demo.queue(default_concurrency_limit=4, max_size=64)
    demo.launch(prevent_thread_lock=True, quiet=True, ssr_mode=False)
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)     # else a traceback per truncated file
    for api_name in ("/pil", "/path"):
        errors = []

        def worker(api_name=api_name, errors=errors):       # this round's endpoint and list, bound now
            c = Client(demo.local_url, verbose=False)
            for _ in range(a.requests):
                try:
                    with Image.open(c.predict(api_name=api_name)) as im:
                        assert im.size == IMAGE.size
                        im.load()
                except Exception as e:  # noqa: BLE001  (counted and shown)
                    errors.append(f"{type(e).__name__}: {str(e)[:90]}")
        ts = [threading.Thread(target=worker) for _ in range(a.threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        print(f"{api_name}: {len(errors)} of {a.threads * a.requests} downloads failed"
              + (f", e.g. {sorted(set(errors))[:2]}" if errors else ""), flush=True)
    demo.close(verbose=False)
    shutil.rmtree(TMP, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
