"""The README's examples are run, so the docs cannot rot (lucidrains style): the Python example in this
process (fast) and in a fresh interpreter (slow); the HTTP example's endpoints and parameter names
against the built page (fast), and the example itself against the served app (slow)."""
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", README, flags=re.S)


@pytest.mark.parametrize("where", ["here", pytest.param("fresh process", marks=pytest.mark.slow)])
def test_readme_python_api_example_runs(where, monkeypatch, capsys):
    block = next(b for b in python_blocks() if "load_vae" in b)
    if where == "here":
        monkeypatch.chdir(ROOT)                                  # the example's paths are the repository's
        exec(compile(block, "README.md", "exec"), {"__name__": "__main__"})
        stdout = capsys.readouterr().out
    else:
        out = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        stdout = out.stdout
    assert "torch.Size([4, 1, 28, 28])" in stdout


def test_readme_commands_match_ci():
    """The README's two commands, word for word, and .ci/run runs the test one."""
    blocks = bash_blocks()
    assert "pip install -r requirements.txt && python app.py" in blocks[0]
    test_cmd = "pip install -r requirements-dev.txt && python -m pytest"
    assert test_cmd in blocks[1]
    assert test_cmd in (ROOT / ".ci" / "run").read_text()


def test_readme_gradio_client_example_calls_endpoints_by_their_parameter_names(demo):
    """Every client.predict in the HTTP example names an endpoint of the app and passes that endpoint's
    parameters by name: only those, and every one without a default. Every endpoint has its example."""
    block = next(b for b in python_blocks() if "gradio_client" in b)
    named = demo.get_api_info()["named_endpoints"]
    seen = set()
    for call in ast.walk(ast.parse(block)):
        if not (isinstance(call, ast.Call) and getattr(call.func, "attr", None) == "predict"):
            continue
        kwargs = {k.arg for k in call.keywords} - {"api_name"}
        api_name = ast.literal_eval(next(k.value for k in call.keywords if k.arg == "api_name"))
        assert api_name in named, api_name
        params = named[api_name]["parameters"]
        assert not call.args and kwargs <= {p["parameter_name"] for p in params}, (api_name, kwargs)
        assert {p["parameter_name"] for p in params if not p["parameter_has_default"]} <= kwargs, api_name
        seen.add(api_name)
    assert seen == set(named)


@pytest.mark.slow                                                # a server
def test_readme_gradio_client_example_runs(app_url):
    block = next(b for b in python_blocks() if "gradio_client" in b)
    block = block.replace("http://127.0.0.1:7860/", app_url)
    out = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    assert out.returncode == 0, out.stderr
    assert "[" in out.stdout                     # info["mu"] printed as a list
