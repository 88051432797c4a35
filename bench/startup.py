"""Start-up: `python app.py --port P` to the first HTTP 200, against a bare Gradio app that imports torch.

    python bench/startup.py [--reps 5] [--weights weights] [--models N]

The two launches alternate (bare, ours, ours, bare, ...) so drift hits both alike; the median of
each is reported. A second table splits our start-up into phases, timed in a fresh process.
--models N serves a temporary weights root of N model folders: the models under --weights and
copies of one of them (copy-01, copy-02, ...), as trained runs pile up beside the shipped models
(the target: start-up with 50 models within 1.2x of the bare app).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    DEFAULT_WEIGHTS,
    ROOT,
    Server,
    app_cmd,
    bare_cmd,
    free_port,
    header,
    many_models_root,
    met,
    row,
)

TARGET = 1.5
TARGET_MANY = 1.2                       # 50 models start within 1.2x of the bare app
PHASES = r"""
import json, os, sys, time
t0 = time.perf_counter(); out = {}
def mark(name):
    out[name] = time.perf_counter() - t0
sys.path.insert(0, sys.argv[1])
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
import torch; mark("import torch")
import gradio; mark("import gradio (after torch)")
import app; mark("import app (plotly, model/)")
demo = app.build_demo(sys.argv[2]); mark("build_demo (entries, the default model, the page)")
out["umap imported"] = "umap" in sys.modules
out["numba imported"] = "numba" in sys.modules
from model.serving.registry import ModelRegistry
t = time.perf_counter(); reg = ModelRegistry(sys.argv[2]); entries = time.perf_counter() - t
t = time.perf_counter(); reg.load_default(); default = time.perf_counter() - t
out["models"] = len(reg.names())
out["of which, timed again afterwards: read the entries"] = entries
out["load the default model"] = default
print(json.dumps(out))
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--weights", default=DEFAULT_WEIGHTS)
    p.add_argument("--models", type=int, default=None, help="serve N model folders (the shipped ones + copies)")
    a = p.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    if a.models is not None:
        a.weights = str(many_models_root(a.models, a.weights, tmp / "weights"))
    kinds = {"ours": lambda port: app_cmd(port, a.weights), "bare": bare_cmd}
    times: dict[str, list[float]] = {"ours": [], "bare": []}
    for rep in range(a.reps + 1):                      # rep 0 warms the page cache, not counted
        order = ["bare", "ours"] if rep % 2 == 0 else ["ours", "bare"]
        for kind in order:
            port = free_port()
            s = Server(kinds[kind](port), port, env={"GRADIO_TEMP_DIR": str(tmp / kind)})
            try:
                t = s.wait()
            finally:
                s.stop()
            if rep:
                times[kind].append(t)
    ours, bare = statistics.median(times["ours"]), statistics.median(times["bare"])
    r = ours / bare
    target = TARGET if a.models is None else TARGET_MANY
    served = "" if a.models is None else f", {a.models} model folders"
    header(f"Start-up, process start to first HTTP 200 on /, median of {a.reps} alternating launches{served}",
           ["figure", "ours", "floor (bare Gradio + torch)", "ratio", "target", "met?"])
    row(["start-up to first 200", f"{ours:.2f} s", f"{bare:.2f} s", f"{r:.2f}x", f"<= {target}x", met(r, target)])
    rounded = {k: [round(t, 2) for t in v] for k, v in times.items()}
    print(f"\nall launches (s): ours {rounded['ours']}, bare {rounded['bare']}")

    res = subprocess.run([sys.executable, "-c", PHASES, str(ROOT), a.weights], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "GRADIO_TEMP_DIR": str(tmp / "phases")})
    if res.returncode == 0:
        ph = json.loads(res.stdout.strip().splitlines()[-1])
        print("\nPhases of our start-up in one fresh process (cumulative s): " + ", ".join(
            f"{k} {v:.3f}" if isinstance(v, float) else f"{k}: {v}" for k, v in ph.items()))
    else:
        print(f"\n(phase timing failed: {res.stderr.strip().splitlines()[-1:]})")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
