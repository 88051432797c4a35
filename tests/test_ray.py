"""The Ray backend (model/serving/training/ray_backend.py), and the backend contract run against both backends.

Fast: an address nothing answers is refused with its message (the app refuses to start), a backend that has
lost its cluster refuses new jobs, and the app without --train-backend ray never imports Ray. Slow: a local
2-node cluster (ray.cluster_utils.Cluster, 1 CPU each, in this test process) trains jobs on both nodes; one
node is removed and its job resumes on the other from its checkpoint, the other job untouched; and the same
contract (start, live view, β, pause, snapshot, stop, resume, a failing job) is checked on the local pool and
on Ray. Ray binds its nodes to this machine's primary address even when given 127.0.0.1, so where the tests may
(as root, with unshare), the cluster tests run in a network namespace of their own whose one address is loopback:
no port of theirs is open beyond this machine. Elsewhere they run here, needing only that address."""
import functools
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_train_live import wait_for

from model.nets.limits import ExplorerError
from model.serving.registry import ModelRegistry
from model.serving.training import TrainingService, checkpoint_step
from model.serving.training.ray_backend import ClusterError, RayBackend

ROOT = Path(__file__).resolve().parents[1]
TINY = {"dataset": "digits", "latent_dim": 2, "beta": 1.0, "size": "small"}
CHECKPOINT = "checkpoint.safetensors"
IN_PRIVATE_NETWORK = os.environ.get("VAE_TEST_PRIVATE_NETWORK") == "1"     # set by the test that re-runs us there


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- refusals (fast: no Ray process)
def test_an_address_nothing_answers_is_refused_with_its_message():
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(ClusterError) as e:
        RayBackend(address)
    assert f"cannot reach the Ray cluster at {address}" in str(e.value)
    assert "does not start one" in str(e.value) and "fall back" in str(e.value)


def test_no_address_says_how_to_give_one(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(ClusterError, match="--ray-address"):
        RayBackend(None)


def test_the_app_refuses_to_start_in_ray_mode_without_a_cluster(tmp_path, capsys):
    import app
    code = app.main(["--train-backend", "ray", "--ray-address", f"127.0.0.1:{free_port()}",
                     "--runs", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: cannot reach the Ray cluster") and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()                # refused before anything was built


@pytest.mark.slow                                           # starts a Python process
def test_the_app_without_ray_never_imports_it():
    code = ("import sys, app; a = app.parse_args([]); import model.serving.training; "
            "print(a.train_backend, 'ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["local", "False"], out.stderr


class Gone:
    """A backend whose cluster has gone: what the service asks before it queues a job."""

    def unavailable(self):
        return "the Ray cluster at x:6379 has no training actor left"

    def lost(self):
        return []

    def shutdown(self, grace_s):
        pass


def test_a_backend_that_lost_its_cluster_refuses_new_jobs_with_its_message(tmp_path):
    s = TrainingService(tmp_path / "runs", ModelRegistry(ROOT / "weights"), backend=Gone())
    try:
        with pytest.raises(ExplorerError, match="no training actor left"):
            s.submit(TINY)
        assert s.jobs == {}
    finally:
        s.shutdown()


# ---------------------------------------------------------------- a 2-node cluster (slow)
@functools.cache
def private_network_possible() -> bool:
    """Whether this process may make a network namespace (root, unshare and ip present, and the kernel lets it)."""
    if os.name != "posix" or os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("ip")):
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


@pytest.mark.slow
def test_the_cluster_tests_pass_in_a_private_network():
    """The two cluster tests, in a new network namespace where loopback is the only address (as the Ray tests of
    this project must: Ray would otherwise listen on the machine's primary address)."""
    if IN_PRIVATE_NETWORK or not private_network_possible():
        pytest.skip("no private network namespace here (needs root and unshare): the cluster tests run directly")
    pytest.importorskip("ray.cluster_utils")
    tests = [f"{__file__}::{name}" for name in ("test_the_backend_contract[ray]",
                                                "test_jobs_spread_over_both_nodes_and_a_lost_nodes_job_resumes_on_the_other")]
    out = subprocess.run(["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', sys.executable, "-m",
                          "pytest", *tests, "-o", "addopts=", "-p", "no:cacheprovider"],
                         cwd=ROOT, env=os.environ | {"VAE_TEST_PRIVATE_NETWORK": "1"}, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0 and "2 passed" in out.stdout, out.stdout[-4000:] + out.stderr[-2000:]


@pytest.fixture(scope="module")
def cluster():
    if private_network_possible() and not IN_PRIVATE_NETWORK:
        pytest.skip("runs in a private network namespace (test_the_cluster_tests_pass_in_a_private_network)")
    cluster_utils = pytest.importorskip("ray.cluster_utils")
    c = cluster_utils.Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 4}})
    worker = c.add_node(num_cpus=1)
    if IN_PRIVATE_NETWORK:                               # loopback is all there is: every node listens there
        assert {n.node_ip_address for n in (c.head_node, worker)} == {"127.0.0.1"}
    yield c, worker
    c.shutdown()


@pytest.fixture(scope="module")
def ray_backend(cluster):
    b = RayBackend(cluster[0].address)
    yield b
    b.shutdown(3.0)


@pytest.fixture(params=["local", "ray"])
def service(request, tmp_path):
    backend = request.getfixturevalue("ray_backend") if request.param == "ray" else None
    s = TrainingService(tmp_path / "runs", ModelRegistry(ROOT / "weights"), max_running=4, max_queue=4, threads=1,
                        niceness=0, backend=backend)     # a busy CI machine must not starve it
    yield s
    if backend is None:
        s.shutdown()
    else:
        s._stop.set()                                 # the module's Ray backend outlives this service


@pytest.mark.slow
def test_the_backend_contract(service):
    """Start, the live view, β, pause, "Explore this model", stop, resume and a failing job, the same on both."""
    token, job = service.submit(TINY | {"seconds": 60})
    s = wait_for(service, token, ("running",), also=lambda s: s["step"] >= 15)
    assert s["node"] == "local" or s["node"] in service.backend.nodes()        # a Ray node's id
    live = service.live(job.id)
    assert live["recon"].startswith("data:image/png;base64,") and live["map"]["n"] > 0
    service.set(token, beta=4.0)
    s = wait_for(service, token, ("running",), also=lambda s: s["marks"])
    assert s["marks"][0]["text"] == "β 1 → 4"
    service.set(token, paused=True)
    step = wait_for(service, token, ("paused",))["step"]
    time.sleep(1.5)
    assert service.status(token)["step"] == step                               # paused: no step taken
    service.set(token, paused=False)
    wait_for(service, token, ("running",), also=lambda s: s["step"] > step)
    service.publish(token)
    s = wait_for(service, token, ("running",), also=lambda s: s["model"])
    assert service.registry.get(s["model"]).dim == 2                           # its files are the server's
    service.stop(token)
    s = wait_for(service, token, ("stopped",))
    stopped_at = s["step"]
    assert checkpoint_step(job.dir / CHECKPOINT) == stopped_at and s["history"][-1]["beta"] == 4.0
    bad_token, bad = service.submit(TINY | {"dataset": "upload"}, data={"train_images": np.zeros((40, 1))})
    service.resume(token, seconds=5)
    s = wait_for(service, token, ("done",))
    assert s["step"] > stopped_at and s["model"] == job.model_name
    s = wait_for(service, bad_token, ("failed",))
    assert "not a prepared training set" in s["message"]                     # it failed alone, with its message


@pytest.mark.slow
def test_jobs_spread_over_both_nodes_and_a_lost_nodes_job_resumes_on_the_other(cluster, ray_backend, tmp_path):
    """Two jobs, one per node; the worker node is removed once both have checkpointed: its job resumes on the
    head node's actor from its checkpoint (the server's copy) and says so; the head's job is not touched; both
    finish. Last in this module: the cluster has one node after it."""
    c, worker = cluster
    service = TrainingService(tmp_path / "runs", ModelRegistry(ROOT / "weights"), max_running=4, max_queue=4,
                              backend=ray_backend)
    try:
        runs = [service.submit(TINY | {"seconds": 16, "name": f"s{i}"}) for i in range(2)]
        nodes = {job.id: wait_for(service, token, ("running",), also=lambda s: s["step"] >= 5)["node"]
                 for token, job in runs}
        assert set(nodes.values()) == {c.head_node.node_id, worker.node_id}  # one job on each node
        deadline = time.monotonic() + 60
        while (any(checkpoint_step(job.dir / CHECKPOINT) is None for _, job in runs)
               and time.monotonic() < deadline):
            time.sleep(0.2)
        (lost_token, lost), (kept_token, kept) = sorted(runs, key=lambda r: nodes[r[1].id] != worker.node_id)
        c.remove_node(worker)
        step = checkpoint_step(lost.dir / CHECKPOINT)
        s = wait_for(service, lost_token, ("running", "done"), also=lambda s: "resumed" in (lost.note or ""))
        assert f"resumed from its checkpoint at step {step}" in lost.note and s["node"] == c.head_node.node_id
        for token, job in runs:
            s = wait_for(service, token, ("done",))
            assert s["model"] == job.model_name
        assert service.status(lost_token)["step"] > step
        assert kept.lost == 0 and kept.note == "" and kept.node == c.head_node.node_id   # not touched
        assert ray_backend.nodes() == {c.head_node.node_id: 0}
    finally:
        service._stop.set()


# ---------------------------------------------------------------- deploy/ (fast)
def test_the_kubernetes_files_parse_and_agree_with_the_app():
    """deploy/raycluster.yaml and deploy/app.yaml: the cluster runs the pinned Ray, the app's command line is
    one app.py accepts, it reaches the cluster's head service by Ray Client, and its Service is sticky."""
    yaml = pytest.importorskip("yaml")
    import app
    (cluster,) = yaml.safe_load_all((ROOT / "deploy" / "raycluster.yaml").read_text())
    deployment, service = yaml.safe_load_all((ROOT / "deploy" / "app.yaml").read_text())
    pin = next(line for line in (ROOT / "requirements-ray.txt").read_text().splitlines() if line.startswith("ray=="))
    assert cluster["kind"] == "RayCluster" and cluster["spec"]["rayVersion"] == pin.split("==")[1]
    command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
    args = app.parse_args(command[2:])
    assert command[:2] == ["python", "app.py"] and args.train_backend == "ray"
    assert args.ray_address == f"ray://{cluster['metadata']['name']}-head-svc:10001"
    assert service["kind"] == "Service" and service["spec"]["sessionAffinity"] == "ClientIP"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
