"""The code's layout, read as source: model/ grouped by job with each sub-package importing only from those
before it, one command line that lists every command, and a README whose layout map names every module."""
import ast
import importlib
import re
from pathlib import Path

import pytest

from model import cli

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("nets", "store", "data", "analysis", "training", "serving")     # each imports only from those before it


def readme_layout() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Layout"):]
    return section[section.index("```") + 3:].split("```")[0].splitlines()


def section(lines: list[str], folder: str) -> str:
    """The lines of the layout map under `folder/` (down to the next line as far left or further)."""
    start = next(i for i, line in enumerate(lines) if re.match(rf"\s*{re.escape(folder)}/(\s|$)", line))
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = next((j for j in range(start + 1, len(lines))
                if re.match(r"\s*[\w.]+/(\s|$)", lines[j]) and len(lines[j]) - len(lines[j].lstrip()) <= indent),
               len(lines))
    return "\n".join(lines[start:end])


def section_of(package: str) -> str:
    """The layout map's lines for a package path: `model/serving/training` is the training/ under serving/
    under model/, not model/training."""
    lines = readme_layout()
    for folder in package.split("/"):
        lines = section(lines, folder).splitlines()
    return "\n".join(lines)


@pytest.mark.parametrize("package", ["model", "model/nets", "model/nets/kinds", "model/store", "model/data",
                                     "model/analysis", "model/training", "model/serving", "model/serving/training",
                                     "ui"])
def test_the_readme_layout_names_every_module(package):
    text = section_of(package)
    modules = [p.name for p in sorted((ROOT / package).glob("*.py")) if package == "model" or p.name != "__init__.py"]
    missing = [name for name in modules if name not in text]
    assert not missing, f"README's layout map does not name {package}/{', '.join(missing)}"


def test_the_readme_layout_names_every_page_module():
    text = "\n".join(readme_layout())
    assert not [p.name for p in (ROOT / "assets").glob("*.js") if p.name not in text]


def imports_of(path: Path) -> set[str]:
    """The model.* modules a file imports (relative imports resolved against its package)."""
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            name = ".".join(base + ([node.module] if node.module else []))
            found |= {f"{name}.{a.name}" for a in node.names} if not node.module else {name}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def test_each_sub_package_imports_only_from_those_before_it():
    for path in sorted((ROOT / "model").rglob("*.py")):
        parts = path.relative_to(ROOT / "model").parts
        if len(parts) < 2:
            continue                                      # model/__init__, cli, __main__: the top
        layer = LAYERS.index(parts[0])
        for name in imports_of(path):
            assert name.split(".")[0] not in ("gradio", "plotly", "ui", "app"), f"{path} imports {name}"
            bits = name.split(".")
            if bits[0] == "model" and len(bits) > 1 and bits[1] in LAYERS:
                assert LAYERS.index(bits[1]) <= layer, f"{path.relative_to(ROOT)} imports {name}: a later layer"


def test_one_command_line_lists_every_command(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name, (module, _) in cli.COMMANDS.items():
        assert re.search(rf"^\s+{name}\s", out, re.M), name
        assert callable(importlib.import_module(module).main), module
    assert cli.main(["nope"]) == 2 and "unknown command 'nope'" in capsys.readouterr().err


def test_the_readme_commands_use_the_one_command_line():
    text = (ROOT / "README.md").read_text()
    used = set(re.findall(r"python -m model (\w+)", text))
    assert used and used <= set(cli.COMMANDS), used - set(cli.COMMANDS)
    assert not re.search(r"python -m model\.\w", text)         # the old per-module entries are gone
