"""A class on a Ray cluster against the local backend, on the same cores: N jobs at once, then a node lost.

    python bench/ray_class.py [--students 30] [--seconds 20] [--limit 300] [--backends local,ray] [--remove-node]

Each backend in turn, under the same TrainingService, in this process (the service is what the app runs; the backend
is the only difference): `local` is the pool of 2 training processes on this machine's 2 cores, at --local-niceness
(default 0). Ray starts its actors at niceness 15 (its `worker_niceness`), but inside the raylet's session, whose
scheduling group (Linux autogroups) competes with other sessions at niceness 0; the local pool's processes have
sessions of their own whose group takes their niceness, so 0 is the like-for-like setting (at 15 they starve on a
busy machine; the app's default, 10, is for a machine that also serves); its processes are started (service.warm,
what opening the Train tab does) LOCAL_READY_S before the jobs, as Ray's actors start before. `ray` is a local
2-node cluster (ray.cluster_utils.Cluster, two raylets on this machine, 1 CPU each) with one training actor per
node. N jobs (Fashion-MNIST, 2-D, small, --seconds budget) are submitted at one moment; each job's status is polled
four times a second: accepted, its node, the first live point (the first history row), the first moment its k-NN (k
= 10, held- out means, computed in the training process) reaches 0.6. The clock stops when every job has reached it
(or ended) or at --limit; then every job is stopped. Memory, sampled every second: the training processes (local:
the pool's processes; Ray: the actors, each reporting its own) and, for Ray, its own processes (GCS, raylets,
agents, idle workers); and this process's growth when it connected (the app's cost of being a Ray driver).

--remove-node: on a fresh 2-node cluster, 10 jobs of 40 s; once each has a checkpoint on the server, the
worker node is removed: how long until its jobs were reported lost, whether each resumed on the other node from
its checkpoint (steps lost: its step when lost minus its checkpoint's), and whether the other node's jobs were
touched. Prints markdown for BENCHMARKS.md. The numbers depend on the machine's load: say what else ran.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model.serving.registry import ModelRegistry  # noqa: E402
from model.serving.training import TrainingService, checkpoint_step  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.6
LOCAL_READY_S = 8.0            # the local pool's processes, warmed as the Train tab warms them, are given this long
JOB = {"dataset": "fashion-mnist", "latent_dim": 2, "beta": 1.0, "size": "small"}
PAGE = os.sysconf("SC_PAGE_SIZE")


def processes() -> list[tuple[int, str, int]]:
    """(pid, command line, resident bytes) of every process."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            rss = int((d / "statm").read_text().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            continue
        out.append((int(d.name), cmd, rss))
    return out


def memory(backend) -> dict[str, float]:
    """MB: the backend's training processes (as it counts them: its own pool, or its actors), and Ray's own
    processes on this machine (everything of Ray's but the training actors)."""
    ray = 0
    for pid, cmd, rss in processes():
        if pid != os.getpid() and not cmd.startswith("ray::TrainingActor") and (
                cmd.startswith("ray::") or "/ray/" in cmd or "ray.util.client" in cmd):
            ray += rss
    return {"training": backend.rss_bytes() / 2**20, "ray": ray / 2**20}


def own_rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE / 2**20


def cluster(nodes: int = 2):
    from ray.cluster_utils import Cluster
    c = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 4}})
    workers = [c.add_node(num_cpus=1) for _ in range(nodes - 1)]
    return c, workers


def class_run(kind: str, students: int, seconds: float, limit: float, niceness: int = 0) -> dict:
    runs = Path(tempfile.mkdtemp(prefix=f"bench-ray-{kind}-"))
    registry = ModelRegistry(ROOT / "weights")
    extra, c, t_setup = {}, None, time.monotonic()
    rss0 = own_rss_mb()
    if kind == "ray":
        from model.serving.training.ray_backend import RayBackend
        c, _ = cluster()
        extra["backend"] = RayBackend(c.address)
    else:
        extra.update(processes=2, threads=2, niceness=niceness)
    service = TrainingService(runs, registry, max_running=students, max_queue=students, **extra)
    if kind == "local":              # as the Train tab does when opened; Ray's actors start with the app
        service.warm(["fashion-mnist"])
        time.sleep(LOCAL_READY_S)
    driver_mb = own_rss_mb() - rss0
    setup_s = time.monotonic() - t_setup
    peak = {"training": 0.0, "ray": 0.0}
    stop = threading.Event()

    def sample():
        while not stop.wait(1.0):
            for k, v in memory(service.backend).items():
                peak[k] = max(peak[k], v)
    threading.Thread(target=sample, daemon=True).start()
    t0 = time.monotonic()
    jobs, refused = [], []
    for i in range(students):
        try:
            jobs.append(service.submit(JOB | {"seconds": seconds, "name": f"s{i}"}, caller=f"c{i}")[1])
        except Exception as e:                        # noqa: BLE001 - a refusal is a result
            refused.append(str(e))
    first, reached, nodes = {}, {}, {}
    while time.monotonic() - t0 < limit:
        for job in jobs:
            s = service.status(job.id)
            now = time.monotonic() - t0
            if s["history"] and job.id not in first:
                first[job.id] = now
            if (s["knn"] or 0) >= TARGET and job.id not in reached:
                reached[job.id] = now
            if s["node"]:
                nodes[job.id] = s["node"]
        if all(j.id in reached or not j.unfinished for j in jobs):
            break
        time.sleep(0.25)
    wall = time.monotonic() - t0
    stop.set()
    for job in jobs:
        if job.unfinished:
            service._stop_job(job)
    service.shutdown(5.0)
    if c is not None:
        c.shutdown()
    spread = {}
    for n in nodes.values():
        spread[n[:8]] = spread.get(n[:8], 0) + 1
    return {"kind": kind, "accepted": len(jobs), "refused": len(refused), "spread": spread, "first": first,
            "reached": reached, "wall": wall, "peak": peak, "setup_s": setup_s, "driver_mb": driver_mb}


def node_removal(students: int = 10, seconds: float = 40.0, limit: float = 240.0) -> dict:
    from model.serving.training.ray_backend import RayBackend
    c, (worker,) = cluster()
    service = TrainingService(tempfile.mkdtemp(prefix="bench-ray-lost-"), ModelRegistry(ROOT / "weights"),
                              max_running=students, max_queue=students, backend=RayBackend(c.address))
    jobs = [service.submit(JOB | {"seconds": seconds, "name": f"s{i}"}, caller=f"c{i}")[1] for i in range(students)]
    t0 = time.monotonic()
    while (any(checkpoint_step(j.dir / "checkpoint.safetensors") is None for j in jobs)
           and time.monotonic() - t0 < limit):
        time.sleep(0.25)
    on_worker = [j for j in jobs if j.node == worker.node_id]
    steps_at_loss = {j.id: service.status(j.id)["step"] for j in jobs}
    kept = {j.id: checkpoint_step(j.dir / "checkpoint.safetensors") for j in jobs}
    t_remove = time.monotonic()
    c.remove_node(worker)
    lost_at, resumed_at = {}, {}
    while time.monotonic() - t_remove < limit and len(resumed_at) < len(on_worker):
        for j in on_worker:
            if j.lost and j.id not in lost_at:
                lost_at[j.id] = time.monotonic() - t_remove
            s = service.status(j.id)
            if j.lost and s["state"] == "running" and s["step"] > kept[j.id] and j.id not in resumed_at:
                resumed_at[j.id] = time.monotonic() - t_remove
        time.sleep(0.25)
    others = [j for j in jobs if j not in on_worker]
    out = {"jobs": len(jobs), "on_worker": len(on_worker), "lost_s": sorted(lost_at.values()),
           "resumed_s": sorted(resumed_at.values()),
           "resumed_on_head": sum(j.node == c.head_node.node_id for j in on_worker),
           "steps_lost": [steps_at_loss[j.id] - kept[j.id] for j in on_worker],
           "others_touched": sum(j.lost > 0 or bool(j.note) for j in others),
           "notes": sorted({j.note.split(" at step")[0] for j in on_worker})}
    for j in jobs:
        if j.unfinished:
            service._stop_job(j)
    service.shutdown(5.0)
    c.shutdown()
    return out


def spread3(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{min(values):.1f} / {statistics.median(values):.1f} / {max(values):.1f}"


def table(results: list[dict], students: int, seconds: float) -> str:
    rows = [f"| backend (2 cores) | accepted | nodes (jobs each) | first live point, s (min / median / max) | "
            f"k-NN ≥ {TARGET}, s (min / median / max) | reached | training memory, MB | Ray's own processes, MB | "
            f"set-up, s | driver's growth, MB |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        first, reached = spread3(list(r["first"].values())), spread3(list(r["reached"].values()))
        rows.append(f"| {r['kind']} | {r['accepted']}/{students} | {r['spread']} | {first} | {reached} | "
                    f"{len(r['reached'])}/{r['accepted']} | {r['peak']['training']:.0f} | {r['peak']['ray']:.0f} | "
                    f"{r['setup_s']:.1f} | {r['driver_mb']:.0f} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=30)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--limit", type=float, default=300.0)
    p.add_argument("--backends", default="local,ray")
    p.add_argument("--remove-node", action="store_true")
    p.add_argument("--local-niceness", type=int, default=0, help="the local pool's niceness (see above)")
    args = p.parse_args(argv)
    print(f"{os.cpu_count()} cores; load average before: {os.getloadavg()}", flush=True)
    results = []
    for kind in args.backends.split(","):
        if kind:
            results.append(class_run(kind, args.students, args.seconds, args.limit, args.local_niceness))
            print(table(results[-1:], args.students, args.seconds), flush=True)
    if results:
        print(f"\n{args.students} jobs at once (Fashion-MNIST, 2-D, small, {args.seconds:g} s budget)\n")
        print(table(results, args.students, args.seconds))
    if args.remove_node:
        r = node_removal()
        print(f"\nnode removal: {r}")
    print(f"load average after: {os.getloadavg()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
