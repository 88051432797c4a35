"""Shared fixtures: the shipped weights folder, the models and the page's handlers loaded once per
session, tiny untrained models, and (for slow tests only) the app served on a free port.

`VAE_WEIGHTS` points the tests (and `app.demo`) at another weights root; by default they use the
shipped `weights/`, so the tests check what a user gets.

The fast suite (`-m "not slow and not browser"`) starts no server: a test that needs one (`served_app`,
`app_url`, `client`, `kinds_app`, a subprocess running app.py) is marked slow. The public endpoints are
tested through `endpoint`, once called directly (fast) and once through the served app (slow).
"""
import atexit
import json
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# exported decoders (model/store/onnx.py) go to a folder of this run's own, not the user's ~/.cache; removed at exit
if "VAE_CACHE_DIR" not in os.environ:
    os.environ["VAE_CACHE_DIR"] = tempfile.mkdtemp(prefix="vae-tests-cache-")
    atexit.register(shutil.rmtree, os.environ["VAE_CACHE_DIR"], ignore_errors=True)

WEIGHTS = Path(os.environ.get("VAE_WEIGHTS", ROOT / "weights"))


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """One torch thread, as the app serves (ui/server.py launch): the tests' tensors are small, and on 2
    shared cores a second thread made the fast suite slower and its times twice as variable. (While the
    fast suite still started a server, its launch set this for every test after test_api.py.)"""
    import torch

    torch.set_num_threads(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def weights_root() -> Path:
    return WEIGHTS


def serve(weights):
    """(demo, url) of the app on a weights root, on 127.0.0.1 and a free port; closed afterwards."""
    import app

    demo = app.build_demo(weights)
    port = free_port()
    app.launch(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    yield demo, f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="session")
def served_app():
    """(demo, url) of the real app on the shipped weights. Slow tests only."""
    yield from serve(WEIGHTS)


@pytest.fixture(scope="session")
def app_url(served_app) -> str:
    return served_app[1]


@pytest.fixture(scope="session")
def registry(weights_root):
    """The shipped models, each loaded once (on first use) for every test that calls the explorer directly:
    max_loaded above their number, so that no model is evicted and reloaded between tests (the page keeps
    fewer; tests/test_registry.py checks the bound)."""
    from model.serving.registry import ModelRegistry

    return ModelRegistry(weights_root, max_loaded=64)


@pytest.fixture(scope="session")
def exported(registry, tmp_path_factory):
    """exported(name, "decoder" or "encoder") -> that half of a shipped model as ONNX (model/store/onnx.py),
    exported once per session for all the tests that check the files (0.1-0.2 s a half, ~20 halves)."""
    from model.store.onnx import export_decoder, export_encoder

    root, done = tmp_path_factory.mktemp("onnx"), {}

    def get(name: str, half: str) -> Path:
        if (name, half) not in done:
            export = {"decoder": export_decoder, "encoder": export_encoder}[half]
            done[name, half] = export(registry.get(name).vae, root / f"{name}.{half}.onnx")
        return done[name, half]
    return get


@pytest.fixture(scope="session")
def wide_weights(tmp_path_factory) -> Path:
    """A weights root with one untrained 40-d model on scikit-learn's digits (more dimensions than the
    page has sliders), its atlas mapped by PCA: built in about a second."""
    import torch

    from model import VAEConfig, save_pretrained
    from model.data import load_digits
    from model.nets.vae import ConvVAE
    from model.training.evaluate import build_atlas

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
    """A gradio_client on the served app, as the README's HTTP example uses it. Slow tests only."""
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.fixture(scope="session")
def demo():
    """The app's page on the shipped weights, built (about a second) and never launched: its event
    wiring and API description, with no server."""
    import app

    return app.build_demo(WEIGHTS)


@pytest.fixture(scope="session")
def api(registry, tmp_path_factory):
    """The public endpoints' handlers (ui/api.py) over the shared registry, as build_demo wires them."""
    from model.serving.training import TrainingService
    from ui.api import Api
    from ui.compare import ComparePanel
    from ui.encode import EncodePanel
    from ui.explore import ExplorePanel
    from ui.interpolate import InterpolatePanel
    from ui.runtime import PageRuntime
    from ui.sample import SamplePanel
    from ui.train import TrainPanel
    from ui.typical import TypicalPanel
    from ui.walk import WalkView

    runtime = PageRuntime(registry)
    explore = ExplorePanel(registry, runtime)
    service = TrainingService(tmp_path_factory.mktemp("runs"), registry, threads=2)     # two cores, as CI has
    return Api(registry, EncodePanel(registry, explore), InterpolatePanel(registry, WalkView(runtime)),
               ComparePanel(registry), SamplePanel(registry, explore), TrainPanel(registry, service, runtime),
               TypicalPanel(registry))


FILE_PARAMETERS = ("image", "image_a", "image_b")     # the endpoints' upload parameters: given as paths
FILE_LISTS = ("images",)                               # ... and their lists of uploads: given as lists of paths


class DirectEndpoints:
    """endpoint("/decode", z=..., model=...) calls the handler a request runs (ui/api.py), in this
    process, with the arguments as Gradio hands them over: an upload as its file data (the upload
    events take it raw, preprocess=False). What the API returns comes back: a gallery as a list of
    paths, and /sample's images alone (its z goes to a gr.State, which the API does not return).
    Refusals raise gr.Error (`.error`)."""

    def __init__(self, api) -> None:
        import gradio as gr

        self.api, self.error = api, gr.Error

    def __call__(self, api_name: str, **kwargs):
        for k in FILE_PARAMETERS:
            if isinstance(kwargs.get(k), (str, Path)):
                kwargs[k] = {"path": str(kwargs[k]), "meta": {"_type": "gradio.FileData"}}
        for k in FILE_LISTS:
            if isinstance(kwargs.get(k), list):
                kwargs[k] = [{"path": str(p), "meta": {"_type": "gradio.FileData"}} for p in kwargs[k]]
        out = self.api.endpoints()[api_name.removeprefix("/")](**kwargs)
        return out[0] if api_name == "/sample" else out


class ServedEndpoints:
    """The same calls through gradio_client on the served app; refusals raise AppError (`.error`)."""

    def __init__(self, client) -> None:
        from gradio_client.exceptions import AppError

        self.client, self.error = client, AppError

    def __call__(self, api_name: str, **kwargs):
        from gradio_client import handle_file

        for k in FILE_PARAMETERS:
            if isinstance(kwargs.get(k), (str, Path)):
                kwargs[k] = handle_file(str(kwargs[k]))
        for k in FILE_LISTS:
            if isinstance(kwargs.get(k), list):
                kwargs[k] = [handle_file(str(p)) for p in kwargs[k]]
        return self.client.predict(**kwargs, api_name=api_name)


@pytest.fixture(params=["direct", pytest.param("served", marks=pytest.mark.slow)])
def endpoint(request):
    """The public endpoints, called directly (fast) and through the served app (slow): a test using
    this fixture runs once each way with the same assertions."""
    if request.param == "direct":
        return DirectEndpoints(request.getfixturevalue("api"))
    return ServedEndpoints(request.getfixturevalue("client"))


def gallery_paths(value) -> list[str]:
    """The image paths of a gallery as an endpoint returns it (paths, or Gradio's gallery items)."""
    return [item if isinstance(item, str) else item["image"] if isinstance(item["image"], str)
            else item["image"]["path"] for item in value]


@pytest.fixture(scope="session")
def kinds_weights(tmp_path_factory) -> Path:
    """A weights root with one untrained tiny model of each kind on scikit-learn's digits: tiny-vae,
    tiny-ae (no variance) and tiny-vq (a 7x7 grid of codes from a codebook of 16), their atlases mapped
    by PCA; about a second."""
    import torch

    from model import VAEConfig, save_pretrained
    from model.data import load_digits
    from model.nets.vae import ConvVAE
    from model.training.evaluate import build_atlas

    root = tmp_path_factory.mktemp("kinds")
    test = load_digits("test")
    for kind in ("vae", "ae", "vq"):
        torch.manual_seed(0)
        # a VQ-VAE's z is its grid of codes: 7 x 7 positions of code_dim 2 for 28x28 images
        extra = {"codebook_size": 16, "code_dim": 2, "latent_dim": 98} if kind == "vq" else {"latent_dim": 4}
        cfg = VAEConfig(widths=(8, 16), hidden=32, kind=kind, class_names=tuple("0123456789"), **extra)
        vae = ConvVAE(cfg).eval()
        save_pretrained(vae, root / f"tiny-{kind}")
        build_atlas(vae, test, root / f"tiny-{kind}", method="pca")
    return root


@pytest.fixture(scope="session")
def tiny_kinds(kinds_weights):
    from model.serving.registry import ModelRegistry

    return ModelRegistry(kinds_weights)


# ---------------------------------------------------------------- the page in Debian's chromium
CHROMIUM = "/usr/bin/chromium"           # driven by Playwright; never `playwright install`
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
PAGE_WAIT = 90_000                       # ms; generous: the CPU is shared, and nothing is timed


@pytest.fixture(scope="module")
def chromium():
    """One browser per test module (modules run one after another, so Playwright instances never overlap)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium (apt install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def server_function(request) -> str:
    """The name of the gr.HTML server function a page's request calls (Gradio posts them all to
    /gradio_api/component_server, naming the function in the body), or '' for any other request."""
    if "/component_server" not in request.url:
        return ""
    try:
        return json.loads(request.post_data or "{}").get("fn_name", "")
    except (ValueError, AttributeError):
        return ""


@pytest.fixture(scope="module")
def open_page(chromium):
    """open_page(url, **context options) -> a page that records its errors (.problems), every request URL
    (.requests; a server function's call as its URL + '#' + the function's name) and dialogs (.dialogs,
    dismissed), and waits until the page decodes z."""
    contexts = []

    def open_(url: str, wait_decoder: bool = True, **options):
        while contexts:                      # one page at a time: an idle page still runs its timers
            contexts.pop().close()
        ctx = chromium.new_context(**({"viewport": {"width": 1440, "height": 1000}} | options))
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(PAGE_WAIT)
        page.problems, page.requests, page.dialogs = [], [], []
        page.on("console", lambda m: m.type == "error" and page.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: page.problems.append(f"pageerror: {e}"))
        page.on("request", lambda r: page.requests.append(r.url + (f"#{fn}" if (fn := server_function(r)) else "")))
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        page.goto(url)
        if wait_decoder:
            page.wait_for_function(
                "() => window.VAE && VAE.stats && VAE.stats.paints > 0 && VAE.state.backend !== 'loading'")
        return page
    yield open_
    for ctx in contexts:
        ctx.close()


def server_requests(page, since: int) -> list[str]:
    """The requests a page sent to the app's API since `since` (its request count then)."""
    return [u for u in page.requests[since:] if "/gradio_api/" in u]


@pytest.fixture(scope="module")
def kinds_app(kinds_weights):
    """(demo, url): the app on the tiny vae/ae/vq models. Browser tests only."""
    yield from serve(kinds_weights)


@pytest.fixture(scope="session")
def fashion_test():
    """The Fashion-MNIST test set (10,000 images); skipped only when the Debian package is missing
    (`apt-get install dataset-fashion-mnist`; CI installs it)."""
    from model.data import DataError, find_fashion_mnist, load_fashion_mnist

    try:
        find_fashion_mnist()
    except DataError as e:
        pytest.skip(f"Fashion-MNIST test set not installed: {e}")
    ds = load_fashion_mnist("test")
    assert ds.images.shape == (10_000, 1, 28, 28)
    return ds
