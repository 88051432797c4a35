"""Many models, loaded lazily: the server's RSS while a client goes through every model of a root of N, twice.

    python bench/many_models.py [--models 50] [--cycles 2] [--weights weights]

The root is the models under --weights plus copies of one of them (bench/_common.py many_models_root),
as trained runs pile up beside the shipped models. The client (gradio_client) calls /decode once per
model, in picker order: the first call to a model loads it (weights, atlas, map index), so each call
after the first max_loaded loads a model and evicts another. RSS is read after start, after each
request and after each cycle: if at most max_loaded models stay loaded, the second cycle ends where
the first did (flat), instead of growing by a model's size per model. The per-call latency says what a
first use costs (every call here is one, since N > max_loaded), against the same calls on one model;
the load itself is also timed in this process after the server has stopped.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    DEFAULT_WEIGHTS,
    ROOT,
    Server,
    app_cmd,
    free_port,
    header,
    many_models_root,
    ms,
    row,
    rss_mb,
)

FLAT_MB = 20.0          # the second cycle may end this much above the first and still count as flat


def dims(root: Path) -> dict[str, int]:
    """Each model's latent_dim from its config.json (the bench process loads no model)."""
    return {d.name: json.loads((d / "config.json").read_text())["latent_dim"]
            for d in sorted(root.iterdir()) if d.is_dir() and (d / "config.json").is_file()}


def cycle(client, models: dict[str, int], pid: int) -> tuple[list[float], list[float]]:
    """/decode z = 0.5 on every model once: (latency per call in s, RSS after each call in MB)."""
    times, rss = [], []
    for name, dim in models.items():
        t0 = time.perf_counter()
        client.predict([0.5] * dim, name, api_name="/decode")
        times.append(time.perf_counter() - t0)
        rss.append(rss_mb(pid))
    return times, rss


def load_times(root: Path) -> list[float]:
    """Seconds to load each model of the root in this process (model.serving.registry.load_model: weights,
    atlas, map index; what a request's first use of a model adds), one after the other, each let go after."""
    import torch

    sys.path.insert(0, str(ROOT))
    from model.serving.registry import ModelRegistry, load_model

    torch.set_num_threads(1)                                  # as the server runs
    times = []
    for entry in ModelRegistry(root).entries():
        t0 = time.perf_counter()
        load_model(entry)
        times.append(time.perf_counter() - t0)
    return times


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", type=int, default=50)
    p.add_argument("--cycles", type=int, default=2)
    p.add_argument("--weights", default=DEFAULT_WEIGHTS)
    a = p.parse_args(argv)

    from gradio_client import Client

    tmp = Path(tempfile.mkdtemp(prefix="bench-many-"))
    root = many_models_root(a.models, a.weights, tmp / "weights")
    models = dims(root)
    port = free_port()
    server = Server(app_cmd(port, str(root)), port, env={"GRADIO_TEMP_DIR": str(tmp / "gradio")},
                    log=str(tmp / "server.log"))
    try:
        server.wait()
        time.sleep(1.0)
        start = rss_mb(server.pid)
        client = Client(server.url, verbose=False, download_files=False)
        one = "fashion-mnist"                                      # loaded at start: the page's default
        warm = [cycle(client, {one: models[one]}, server.pid)[0][0] for _ in range(len(models))]
        runs = [cycle(client, models, server.pid) for _ in range(a.cycles)]
        time.sleep(1.0)
        end = rss_mb(server.pid)
    finally:
        code = server.stop()
    loads = load_times(root)
    shutil.rmtree(tmp, ignore_errors=True)
    report(a, start, end, warm, runs, code, loads)
    return 0


def report(a, start: float, end: float, warm: list[float], runs: list, code: int, loads: list[float]) -> None:
    header(f"Many models: RSS while /decode goes through all {a.models} models, {a.cycles} times "
           f"(one gradio_client, picker order)", ["figure", "value", "target", "met?"])
    row(["RSS after start (the default model loaded)", f"{start:.0f} MB", "report", "-"])
    for i, (_, rss) in enumerate(runs, 1):
        row([f"RSS after cycle {i} (max during it)", f"{rss[-1]:.0f} MB ({max(rss):.0f})", "report", "-"])
    growth = runs[-1][1][-1] - runs[0][1][-1]
    row([f"RSS change from cycle 1's end to cycle {a.cycles}'s", f"{growth:+.0f} MB", f"< {FLAT_MB:.0f} MB (flat)",
         "yes" if growth < FLAT_MB else "**no**"])
    first_use = [t for times, _ in runs for t in times]
    row(["/decode p50 on a model not loaded (each call loads one)", ms(statistics.median(first_use)), "report", "-"])
    row(["/decode p50 on the loaded default model, same client", ms(statistics.median(warm)), "report", "-"])
    row([f"loading one model in-process, p50 / max over the {len(loads)}", f"{ms(statistics.median(loads))} / "
         f"{ms(max(loads))}", "report", "-"])
    print("\nRSS after each call (MB), cycle by cycle: "
          + "; ".join(str([round(r) for r in rss]) for _, rss in runs)
          + f". RSS at the end {end:.0f} MB; exit code after SIGINT {code}.")


if __name__ == "__main__":
    sys.exit(main())
