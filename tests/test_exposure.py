"""Exposure: the served app hands out no file outside what the page needs (traversal
attempts and the weights get 403/404), binds 127.0.0.1 by default, limits uploads to 10 MB, warns
when exposed without a password, and `--auth user:password` really locks the API.

What needs a server is slow; the defaults are checked on app.main with launch replaced (fast)."""
import http.client
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import numpy as np
import pytest
from conftest import free_port
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def raw_get(app_url: str, path: str, headers=None) -> tuple[int, bytes]:
    """GET with the path sent byte for byte (httpx and browsers would collapse '../')."""
    u = urlsplit(app_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def secret_paths(weights_root: Path) -> list[str]:
    from ui.server import ASSETS

    model = next(d for d in sorted(weights_root.iterdir()) if (d / "model.safetensors").is_file())
    w, a = model / "model.safetensors", ASSETS
    return [
        "/gradio_api/file=../../../../../../etc/passwd",
        "/gradio_api/file=..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/gradio_api/file=%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/gradio_api/file=/etc/passwd",
        "/gradio_api/file=%2Fetc%2Fpasswd",
        "/gradio_api/file=//etc/passwd",
        "/gradio_api/file=/proc/self/environ",
        "/file=/etc/passwd",
        "/file=../../../../etc/passwd",
        f"/gradio_api/file={w}",
        f"/gradio_api/file={model / 'config.json'}",
        f"/gradio_api/file={model / 'atlas.npz'}",
        f"/gradio_api/file={weights_root.resolve()}",
        f"/gradio_api/file={a}/../app.py",                               # out of an allowed folder
        f"/gradio_api/file={a}/..%2Fapp.py",
        f"/gradio_api/file={a}/%2e%2e/app.py",
        f"/gradio_api/file={a}%2F..%2Fapp.py",
        f"/gradio_api/file={a}/../{w.relative_to(ROOT) if w.is_relative_to(ROOT) else 'weights'}",
        f"/gradio_api/file={ROOT / 'app.py'}",
        f"/gradio_api/file={ROOT / 'model' / 'io.py'}",
        "/gradio_api/file=app.py",
        f"/gradio_api/file=weights/{model.name}/model.safetensors",
        "/assets/../app.py",
        "/static/../../app.py",
        "/gradio_api/static/../app.py",
        "/gradio_api/file=~/.bashrc",
    ]


# ---------------------------------------------------------------- files
@pytest.mark.slow                                   # a server
def test_no_file_outside_the_page_is_served(app_url, weights_root):
    from ui import server

    served = []
    for path in secret_paths(weights_root):
        status, body = raw_get(app_url, path)
        if status not in (403, 404):
            served.append((path, status, body[:80]))
        assert b"root:x:0:0" not in body and len(body) < 600          # a short refusal, not the file
    assert served == []
    # the check can fail: what the page does need is served from the same route
    status, body = raw_get(app_url, f"/gradio_api/file={server.PLOTLY_JS}")
    assert status == 200 and b"plotly" in body[:200].lower()
    status, body = raw_get(app_url, f"/gradio_api/file={server.ASSETS / 'style.css'}")
    assert status == 200 and body == (server.ASSETS / "style.css").read_bytes()


@pytest.mark.slow                                   # a server: Gradio checks the file data a request names
def test_api_cannot_make_the_app_open_files_outside(app_url, weights_root, tmp_path):
    """The upload endpoints take Gradio's file data raw (preprocess=False): a client naming a path
    it never uploaded (a PNG elsewhere on disk, the weights, /etc/passwd, a traversal out of
    assets/) gets an error, never an encoding. An example image under assets/ is fine."""
    import httpx

    from ui import server

    Image.new("L", (28, 28), 255).save(tmp_path / "private.png")
    model = next(d for d in sorted(weights_root.iterdir()) if (d / "config.json").is_file())
    url = f"{app_url}gradio_api/call/encode"

    def encode(path: str) -> str:
        body = {"data": [{"path": path, "meta": {"_type": "gradio.FileData"}}, model.name]}
        r = httpx.post(url, json=body, timeout=30)
        if r.status_code != 200:
            return f"http {r.status_code}"
        return httpx.get(f"{url}/{r.json()['event_id']}", timeout=60).text

    for path in (str(tmp_path / "private.png"), "/etc/passwd", str(model / "model.safetensors"),
                 str(server.ASSETS / "examples") + "/../../app.py", "../../../../etc/passwd",
                 f"{server.ASSETS}/../{tmp_path.name}/private.png"):
        out = encode(path)
        assert "event: error" in out and '"mu"' not in out, (path, out[:300])
    examples = sorted((server.ASSETS / "examples").glob("*.png"))
    if examples:
        assert "event: complete" in encode(str(examples[0]))


@pytest.mark.slow                                   # a server
def test_static_paths_are_only_plotly_and_assets(app_url):
    """What the app lets Gradio serve from disk: plotly.min.js and assets/, which holds no weights;
    the code beside them (ui/, model/, tests/) is refused."""
    from ui import server

    assert not any(p.suffix in (".safetensors", ".npz", ".pt", ".ckpt") for p in server.ASSETS.rglob("*"))
    for served in (server.PLOTLY_JS, server.ASSETS / "map.js"):
        assert raw_get(app_url, f"/gradio_api/file={served}")[0] == 200
    for source in (ROOT / "ui" / "server.py", ROOT / "model" / "store" / "weights.py", ROOT / "tests" / "conftest.py",
                   ROOT / "requirements.txt"):
        status, body = raw_get(app_url, f"/gradio_api/file={source}")
        assert status in (403, 404) and source.read_bytes()[:200] not in body, source


# ---------------------------------------------------------------- defaults
def test_defaults_bind_localhost_and_limit_uploads(monkeypatch):
    import inspect

    import app
    from ui import server

    args = app.parse_args([])
    assert args.host == "127.0.0.1" and args.share is False and args.auth is None
    assert inspect.signature(app.launch).parameters["host"].default == "127.0.0.1"
    seen = {}
    demo = SimpleNamespace(temp_file_sets=[])                          # what main touches after launch
    monkeypatch.setattr(app, "build_demo", lambda weights, *rest: demo)
    monkeypatch.setattr(app, "launch", lambda *a, **k: seen.update(args=a, kwargs=k))
    assert app.main([]) == 0
    assert seen["args"][:2] == (demo, "127.0.0.1")
    assert server.MAX_FILE_SIZE == "10mb"


@pytest.mark.slow                                   # a server
def test_served_app_limits_upload_size(app_url, tmp_path):
    """A >10 MB upload is refused (413) by the served app, a smaller one accepted."""
    import httpx

    big = os.urandom(1024) * (11 * 1024)                               # 11 MiB
    r = httpx.post(f"{app_url}gradio_api/upload", files={"files": ("big.png", big)}, timeout=60)
    assert r.status_code == 413 and "maximum allowed size" in r.text
    r = httpx.post(f"{app_url}gradio_api/upload", files={"files": ("ok.png", big[: 1024 * 1024])}, timeout=60)
    assert r.status_code == 200
    from gradio_client import Client, handle_file

    (tmp_path / "big.png").write_bytes(big)
    with pytest.raises(ValueError, match="maximum file size"):
        Client(app_url, verbose=False).predict(handle_file(str(tmp_path / "big.png")), api_name="/encode")


@pytest.mark.slow                                   # a process that imports torch and gradio
def test_exposed_host_prints_warning(tmp_path):
    """The real `python app.py --host 0.0.0.0` (empty weights so it stops right after the warning)."""
    (tmp_path / "empty").mkdir()
    proc = subprocess.run([sys.executable, str(ROOT / "app.py"), "--host", "0.0.0.0", "--port", str(free_port()),
                           "--weights", str(tmp_path / "empty")], capture_output=True, text=True, timeout=180,
                          cwd=ROOT, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONWARNINGS": "ignore"})
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 2, proc.stderr
    assert lines[0].startswith("warning: ") and "reachable from other machines" in lines[0] and "--auth" in lines[0]


def test_exposed_host_warns_and_auth_silences_it(monkeypatch, capsys):
    """app.main, the function `python app.py` runs, for --share, other hosts and --auth; nothing is launched."""
    import app

    calls = []
    monkeypatch.setattr(app, "build_demo", lambda weights, *rest: SimpleNamespace(temp_file_sets=[]))
    monkeypatch.setattr(app, "launch", lambda *a, **k: calls.append(a))
    for argv, warned, auth in ((["--host", "0.0.0.0"], True, None), (["--share"], True, None),
                               (["--host", "::"], True, None),
                               (["--host", "0.0.0.0", "--auth", "ann:pa:ss"], False, ("ann", "pa:ss")),
                               (["--share", "--auth", "ann:x"], False, ("ann", "x")),
                               (["--host", "localhost"], False, None)):
        capsys.readouterr()
        assert app.main(argv) == 0
        err = capsys.readouterr().err
        assert ("reachable from other machines" in err) is warned, argv
        assert calls[-1][4] == auth, argv


# ---------------------------------------------------------------- --auth really locks the API
@pytest.fixture(scope="module")
def auth_url(weights_root):
    import app

    demo = app.build_demo(weights_root)
    port = free_port()
    app.launch(demo, "127.0.0.1", port, auth=("ann", "s3cret pass"), prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.mark.slow                                   # a server
def test_auth_refuses_unauthenticated_and_serves_authenticated(auth_url, tmp_path):
    import httpx
    from gradio_client import Client, handle_file

    for path in ("/config", "/gradio_api/info", "/gradio_api/file=" + str(ROOT / "assets" / "style.css")):
        status, _ = raw_get(auth_url, path)
        assert status in (401, 403), (path, status)
    r = httpx.post(f"{auth_url}gradio_api/call/sample", json={"data": [2, 1.0, 0]}, timeout=30)
    assert r.status_code in (401, 403)
    r = httpx.post(f"{auth_url}gradio_api/upload", files={"files": ("a.png", b"x")}, timeout=30)
    assert r.status_code in (401, 403)
    from gradio_client.exceptions import AuthenticationError

    with pytest.raises(AuthenticationError, match="credentials were not provided"):
        Client(auth_url, verbose=False)
    with pytest.raises(ValueError, match="Could not login"):        # a refused login: 400 or 401
        Client(auth_url, auth=("ann", "wrong"), verbose=False)

    client = Client(auth_url, auth=("ann", "s3cret pass"), verbose=False)
    images = client.predict(3, 1.0, 0, api_name="/sample")
    assert len(images) == 3
    img = tmp_path / "x.png"
    Image.fromarray(np.full((28, 28), 255, np.uint8)).save(img)
    recon, info = client.predict(handle_file(str(img)), api_name="/encode")
    assert Path(recon).is_file() and len(info["mu"]) > 0
