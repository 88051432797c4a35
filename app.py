"""VAE Latent Explorer: the command line and the launch. The page is built in ui/, the model in model/.

    python app.py [--host 127.0.0.1] [--port 7860] [--weights weights] [--share] [--auth user:pass]
                  [--runs runs] [--train-jobs 32] [--train-queue 32] [--train-threads 0] [--train-processes 0]
                  [--teacher-key KEY] [--device cpu]
                  [--train-backend local|ray] [--ray-address HOST:6379] [--ray-actors 0] [--ray-cpus 1] [--ray-gpus 0]

`import app; app.demo` builds the page for the default weights folder (tests use it).
"""
from __future__ import annotations

import argparse
import atexit
import functools
import os
import sys
from pathlib import Path

from model.store.weights import WeightsError
from ui import build_demo
from ui.files import private_cache
from ui.server import launch

ROOT = Path(__file__).resolve().parent
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="VAE Latent Explorer")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--weights", default=str(ROOT / "weights"), help="folder of model folders")
    p.add_argument("--share", action="store_true", help="create a public Gradio share link")
    p.add_argument("--auth", default=None, help="user:password required to open the page")
    p.add_argument("--runs", default=str(ROOT / "runs"), help="folder of live-training jobs (the Train tab)")
    p.add_argument("--train-jobs", type=int, default=32, help="training jobs at once (they share the training "
                   "processes in turns); the rest queue")
    p.add_argument("--train-queue", type=int, default=32, help="training jobs that may wait in the queue")
    p.add_argument("--train-threads", type=int, default=0, help="cores the training processes share (0: all)")
    p.add_argument("--train-processes", type=int, default=0, help="training processes (0: one per core)")
    p.add_argument("--teacher-key", default=os.environ.get("VAE_TEACHER_KEY") or None,
                   help="the key that lets a teacher pause or stop any run from the class view "
                        "(default: $VAE_TEACHER_KEY; none: the class view is watch-only)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where training workers train")
    p.add_argument("--train-backend", choices=["local", "ray"], default="local",
                   help="where live-training jobs train: local processes, or an existing Ray cluster")
    p.add_argument("--ray-address", default=None, help="the Ray cluster's address, HOST:6379 or ray://HOST:10001 "
                   "(default: $RAY_ADDRESS); the app never starts a cluster")
    p.add_argument("--ray-actors", type=int, default=0, help="training actors on the cluster (0: one per --ray-cpus "
                   "of its CPUs)")
    p.add_argument("--ray-cpus", type=float, default=1.0, help="CPUs each training actor asks of Ray")
    p.add_argument("--ray-gpus", type=float, default=0.0, help="GPUs each training actor asks of Ray (fractions "
                   "allowed; with --device cuda)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    auth = None
    if args.auth:
        if ":" not in args.auth:
            print("error: --auth must look like user:password", file=sys.stderr)
            return 2
        auth = tuple(args.auth.split(":", 1))
    if (args.host not in LOCAL_HOSTS or args.share) and not auth:
        print("warning: the app is reachable from other machines and has no password; "
              "add --auth user:password", file=sys.stderr)
    backend = None
    if args.train_backend == "ray":    # Ray is imported only here: the local backend never loads it
        from model.serving.training.ray_backend import ClusterError, RayBackend
        try:
            backend = RayBackend(args.ray_address, args.ray_actors, args.ray_cpus, args.ray_gpus)
        except ClusterError as e:
            print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
            return 2
    with private_cache():              # uploads and served files live in a folder removed at exit
        try:
            demo = build_demo(args.weights, args.runs, {"max_running": args.train_jobs, "max_queue": args.train_queue,
                                                        "threads": args.train_threads, "device": args.device,
                                                        "processes": args.train_processes,
                                                        "teacher_key": args.teacher_key, "backend": backend})
        except WeightsError as e:
            print(f"error: {' '.join(str(e).split())}", file=sys.stderr)      # one line, whatever the cause
            return 2
        launch(demo, args.host, args.port, args.share, auth)
    return 0


@functools.lru_cache(maxsize=1)
def _default_demo():
    return build_demo(os.environ.get("VAE_WEIGHTS", ROOT / "weights"))


def __getattr__(name: str):
    if name == "demo":                 # built on first access, so `import app` stays cheap
        return _default_demo()
    raise AttributeError(name)


def exit_now(code: int) -> None:
    """Exit with `code` once Python's own exit work is done (atexit: the temp folders), skipping the C++ runtime's
    teardown: a request that the shutdown grace cut off may still be inside torch on one of Gradio's daemon
    threads, and destroying its thread pool under it aborts the process ("terminate called without an active
    exception", exit status -6) instead of ending it with `code`."""
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
