"""The docs are tested, so they cannot rot (lucidrains style).

README.md, the door: at most 250 lines; its two commands word for word as .ci/run runs them; its options
table is app.py's options with their defaults; its CPU-build line installs the torch that requirements.txt
pins; it links every file of docs/. docs/api.md: the Python example runs in this process (fast) and in a fresh
interpreter (slow); the HTTP example and the endpoint table name the app's endpoints and parameters (fast), and
the example runs against the served app (slow). Every doc: the commands, scripts, files and links it names exist.
docs/models.md: its results tables say what the weights folders' metrics files say."""
import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from model import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DOCS = ROOT / "docs"
API = (DOCS / "api.md").read_text()
MODELS = (DOCS / "models.md").read_text()
TEST_COMMAND = "pip install -r requirements-dev.txt && python -m pytest"
CPU_INDEX = "--index-url https://download.pytorch.org/whl/cpu"


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def every_doc() -> dict[str, str]:
    """Each markdown file a reader is sent to, by its path from the repository's root."""
    paths = [ROOT / "README.md", ROOT / "BENCHMARKS.md", ROOT / "bench" / "README.md", *sorted(DOCS.glob("*.md"))]
    return {str(p.relative_to(ROOT)): p.read_text() for p in paths}


def table_rows(text: str, header_start: str) -> list[list[str]]:
    """The cells of each row of the markdown table whose header line starts with `header_start`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


# ------------------------------------------------------------------ README: the door
def test_the_readme_is_short_and_links_every_doc():
    assert len(README.splitlines()) <= 250
    linked = set(re.findall(r"\]\((docs/[\w.-]+\.md)\)", README))
    assert linked == {f"docs/{p.name}" for p in DOCS.glob("*.md")}, linked


def test_readme_commands_match_ci():
    """The README's two commands, word for word, and .ci/run runs the test one."""
    start, tests = blocks(README, "bash")[0], next(b for b in blocks(README, "bash") if "pytest" in b)
    assert "pip install -r requirements.txt && python app.py" in start
    assert TEST_COMMAND in tests
    assert TEST_COMMAND in (ROOT / ".ci" / "run").read_text().splitlines()


def test_the_cpu_build_line_installs_the_pinned_torch():
    """requirements.txt pins torch; the README, the development guide and requirements.txt's own comment give
    the one line that installs that version's CPU build from PyTorch's CPU wheel index."""
    requirements = (ROOT / "requirements.txt").read_text()
    pin = re.search(r"^torch==(\S+)", requirements, re.M).group(1)
    line = f"pip install torch=={pin} {CPU_INDEX}"
    for name, text in (("README.md", README), ("docs/development.md", (DOCS / "development.md").read_text()),
                       ("requirements.txt", requirements)):
        assert line in text, name
        assert not re.search(rf"--index-url (?!{re.escape(CPU_INDEX.split()[1])})", text), name


def app_options() -> dict[str, str]:
    """app.py's options as the README writes their defaults: folders relative to the repository, off, none."""
    import app
    flags = [node.args[0].value for node in ast.walk(ast.parse((ROOT / "app.py").read_text()))
             if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument"]
    defaults = vars(app.parse_args([]))
    shown = {}
    for flag in flags:
        value = defaults[flag.lstrip("-").replace("-", "_")]
        if isinstance(value, str) and Path(value).is_absolute():
            value = Path(value).relative_to(ROOT).as_posix()
        shown[flag] = "off" if value is False else "none" if value is None else str(value)
    return shown


def test_the_options_table_is_app_py_s():
    table = {row[0].strip("`"): row[1].strip("`") for row in table_rows(README, "| option | default |")}
    assert table == app_options()


# ------------------------------------------------------------------ docs/api.md: the examples run
@pytest.mark.parametrize("where", ["here", pytest.param("fresh process", marks=pytest.mark.slow)])
def test_the_python_api_example_runs(where, monkeypatch, capsys):
    block = next(b for b in blocks(API, "python") if "load_vae" in b)
    if where == "here":
        monkeypatch.chdir(ROOT)                                  # the example's paths are the repository's
        exec(compile(block, "docs/api.md", "exec"), {"__name__": "__main__"})
        stdout = capsys.readouterr().out
    else:
        out = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        stdout = out.stdout
    assert "torch.Size([4, 1, 28, 28])" in stdout


def test_the_gradio_client_example_calls_endpoints_by_their_parameter_names(demo):
    """Every client.predict in the HTTP example names an endpoint of the app and passes that endpoint's
    parameters by name: only those, and every one without a default. Every endpoint has its example, and its
    row in the endpoint table."""
    block = next(b for b in blocks(API, "python") if "gradio_client" in b)
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
    assert {row[0].strip("`") for row in table_rows(API, "| endpoint |")} == set(named)


@pytest.mark.slow                                                # a server
def test_the_gradio_client_example_runs(app_url):
    block = next(b for b in blocks(API, "python") if "gradio_client" in b)
    block = block.replace("http://127.0.0.1:7860/", app_url)
    out = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    assert out.returncode == 0, out.stderr
    assert "[" in out.stdout                     # info["mu"] printed as a list


# ------------------------------------------------------------------ every doc: what it names exists
PATH = re.compile(r"`((?:model|ui|tests|bench|tools|assets|weights|docs|\.ci)/[\w./-]*)`")
FILE_TYPES = {"py", "js", "md", "png", "json", "sh", "npz", "css", "txt", "onnx", "safetensors", "gz"}


@pytest.mark.parametrize("doc", sorted(every_doc()))
def test_what_a_doc_names_exists(doc):
    """Its `python -m model` commands are commands, its `python bench|tools/...` scripts and its `folder/file`
    paths exist (placeholders in capitals, such as NAME, aside), and its relative links lead to a file."""
    text, here = every_doc()[doc], (ROOT / doc).parent
    assert set(re.findall(r"python -m model (\w+)", text)) <= set(cli.COMMANDS)
    assert not re.search(r"python -m model\.\w", text)          # the one command line, not per-module entries
    for script in re.findall(r"python ((?:bench|tools)/\w+\.py)", text):
        assert (ROOT / script).is_file(), script
    for path in PATH.findall(text):
        last = path.rstrip("/").rsplit("/", 1)[-1]
        if "." in last and last.rsplit(".", 1)[1] not in FILE_TYPES:
            continue                                            # a name in a module (ui/runtime.content_url)
        if not re.search(r"[A-Z]{2,}|[{*]", path):
            assert (ROOT / path.rstrip("/")).exists(), f"{doc} names {path}, which is not in the tree"
    for link in re.findall(r"\]\(([^)#:\s]+)(?:#[\w-]*)?\)", text):
        assert (here / link).exists(), f"{doc} links to {link}"


# ------------------------------------------------------------------ docs/models.md: numbers are the files'
def same(shown: str, value: float) -> bool:
    """`shown` is `value` written with as many decimals as `shown` has."""
    decimals = len(shown.split(".")[1]) if "." in shown else 0
    return abs(float(shown.replace(",", "")) - value) <= 0.5 * 10 ** -decimals + 1e-9


def metrics(name: str) -> dict:
    return json.loads((ROOT / "weights" / name / "metrics.json").read_text())


def test_the_shipped_models_table_is_their_metrics():
    rows = table_rows(MODELS, "| folder | latent | test −ELBO")
    assert len(rows) == 5
    for folder, latent, elbo, iwae, active, _ in rows:
        m = metrics(folder.strip("`").removeprefix("weights/"))
        number = r"(\d[\d,]*\.\d+)"
        assert same(re.search(number, elbo).group(1), m["test_neg_elbo"]), folder
        assert same(re.search(rf"recon {number}", elbo).group(1), m["test_recon"]), folder
        assert same(re.search(rf"KL {number}", elbo).group(1), m["test_kl"]), folder
        assert same(re.search(number, iwae).group(1), m["test_iwae_nll"]), folder
        assert active == f"{m['active_units']} / {latent}", folder


def test_the_lab_table_is_their_metrics():
    rows = table_rows(MODELS, "| folder | kind | latent | recon")
    assert len(rows) == 9
    for folder, _, _, recon, kl, elbo, sharp_recon, sharp_samples, shape, pixels in rows:
        m = metrics(folder.strip("`"))
        measures = m["measures"]
        for shown, value in ((recon, m.get("test_recon")), (kl, m.get("test_kl")), (elbo, m.get("test_neg_elbo")),
                             (sharp_recon, measures["sharp_recon"]), (sharp_samples, measures["sharp_samples"]),
                             (shape, measures["sample_shape_distance"]), (pixels, measures["sample_distance"])):
            first = re.match(r"\d[\d,]*(\.\d+)?", shown)
            assert (value is None) == (first is None), (folder, shown, value)
            assert value is None or same(first.group(0), value), (folder, shown, value)


def test_the_sweep_table_is_lab_sweep_json():
    runs = {r["name"]: r for r in json.loads((ROOT / "weights" / "lab-sweep.json").read_text())["runs"]}
    rows = table_rows(MODELS, "| run | β | rate")
    assert len(rows) == len(runs)
    for run, _, kl, recon, elbo, active in rows:
        r = runs[run.split()[0]]
        assert (run.split("`")[1] if "`" in run else None) == r["shipped_as"], run
        for shown, value in ((kl, r["kl"]), (recon, r["recon"]), (elbo, r["neg_elbo"])):
            assert (value is None) == (not shown[0].isdigit()), (run, shown)
            assert value is None or same(shown, value), (run, shown, value)
        assert active == f"{r['active_units']} / {r['latent_dim']}", run
