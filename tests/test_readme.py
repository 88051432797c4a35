"""The README's examples are run, so the docs cannot rot (lucidrains style)."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", README, flags=re.S)


def test_readme_python_api_example_runs():
    block = next(b for b in python_blocks() if "load_vae" in b)
    out = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "torch.Size([4, 1, 28, 28])" in out.stdout


def test_readme_commands_match_ci():
    """The README's two commands, word for word, and .ci/run runs the test one."""
    blocks = bash_blocks()
    assert "pip install -r requirements.txt && python app.py" in blocks[0]
    test_cmd = "pip install -r requirements-dev.txt && python -m pytest"
    assert test_cmd in blocks[1]
    assert test_cmd in (ROOT / ".ci" / "run").read_text()


def test_readme_gradio_client_example_runs(app_url):
    block = next(b for b in python_blocks() if "gradio_client" in b)
    block = block.replace("http://127.0.0.1:7860/", app_url)
    out = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    assert out.returncode == 0, out.stderr
    assert "[" in out.stdout                     # info["mu"] printed as a list
