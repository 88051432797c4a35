"""Shared fixtures: the shipped weights folder and one app served on a free port per session.

`VAE_WEIGHTS` points the tests (and `app.demo`) at another weights root; by default they use the
shipped `weights/`, so the tests check what a user gets.
"""
import os
import socket
import tempfile
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# exported decoders (model/export.py) go to a folder of this run's own, not the user's ~/.cache
os.environ.setdefault("VAE_CACHE_DIR", tempfile.mkdtemp(prefix="vae-tests-cache-"))

WEIGHTS = Path(os.environ.get("VAE_WEIGHTS", ROOT / "weights"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def weights_root() -> Path:
    return WEIGHTS


@pytest.fixture(scope="session")
def served_app():
    """(demo, url) of the real app on the shipped weights, on 127.0.0.1 and a free port."""
    import app

    demo = app.build_demo(WEIGHTS)
    port = free_port()
    app.launch(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    yield demo, f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="session")
def app_url(served_app) -> str:
    return served_app[1]


@pytest.fixture(scope="session")
def registry(weights_root):
    """The shipped models, loaded once for every test that calls the explorer directly."""
    from model.registry import ModelRegistry

    return ModelRegistry(weights_root)


@pytest.fixture(scope="session")
def wide_weights(tmp_path_factory) -> Path:
    """A weights root with one untrained 40-d model on scikit-learn's digits (more dimensions than the
    page has sliders), its atlas mapped by PCA: built in about a second."""
    from model import VAEConfig, save_pretrained
    from model.data import load_digits
    from model.evaluate import build_atlas
    from model.vae import ConvVAE

    import torch

    root = tmp_path_factory.mktemp("wide")
    torch.manual_seed(0)
    vae = ConvVAE(VAEConfig(latent_dim=40, widths=(8, 16), hidden=32, class_names=tuple("0123456789"))).eval()
    save_pretrained(vae, root / "wide-40d")
    build_atlas(vae, load_digits("test"), root / "wide-40d", method="pca")
    return root


@pytest.fixture(scope="session")
def m(registry):
    """The default model, the one the page opens with: Fashion-MNIST, latent 16."""
    return registry.get("fashion-mnist")


@pytest.fixture(scope="session")
def m2d(registry):
    return registry.get("fashion-mnist-2d")


@pytest.fixture(scope="session")
def client(app_url):
    """A gradio_client on the served app, as the README's HTTP example uses it."""
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.fixture(scope="session")
def kinds_weights(tmp_path_factory) -> Path:
    """A weights root with one untrained tiny model of each kind on scikit-learn's digits: tiny-vae,
    tiny-ae (no variance) and tiny-vq (a codebook), their atlases mapped by PCA; about a second."""
    from model import VAEConfig, save_pretrained
    from model.data import load_digits
    from model.evaluate import build_atlas
    from model.vae import ConvVAE

    import torch

    root = tmp_path_factory.mktemp("kinds")
    test = load_digits("test")
    for kind in ("vae", "ae", "vq"):
        torch.manual_seed(0)
        extra = {"codebook_size": 16, "code_dim": 2} if kind == "vq" else {}
        cfg = VAEConfig(latent_dim=4, widths=(8, 16), hidden=32, kind=kind, class_names=tuple("0123456789"), **extra)
        vae = ConvVAE(cfg).eval()
        save_pretrained(vae, root / f"tiny-{kind}")
        build_atlas(vae, test, root / f"tiny-{kind}", method="pca")
    return root


@pytest.fixture(scope="session")
def tiny_kinds(kinds_weights):
    from model.registry import ModelRegistry

    return ModelRegistry(kinds_weights)
