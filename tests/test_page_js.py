"""The page's JavaScript, read as source (no browser): the vae:* events listed once with their senders and
listeners, Gradio's and Plotly's internals read in one place, no rule's number written in the page, and
every file valid JavaScript (`node --check`, also run by CI)."""
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ui.charts import PALETTE

ASSETS = Path(__file__).resolve().parents[1] / "assets"
SCRIPTS = sorted(ASSETS.glob("*.js"))
EMIT = re.compile(r"""VAE\.emit\(\s*["'](vae:[\w-]+)["']""")
ON = re.compile(r"""VAE\.on\(\s*["'](vae:[\w-]+)["']""")


def source(name: str) -> str:
    return (ASSETS / name).read_text()


def listed_events() -> dict:
    """The table between `// events:begin` and `// events:end` in page.js (JSON)."""
    text = source("page.js")
    block = text[text.index("// events:begin"):text.index("// events:end")]
    return json.loads(block[block.index("{"):block.rindex("}") + 1])


def test_every_listed_event_has_its_senders_and_its_listeners():
    events = listed_events()
    assert set(events) >= {"vae:star", "vae:set-z", "vae:painted"}
    for name, e in events.items():
        assert e["detail"] and e["from"] and e["to"], name
        for f in e["from"]:
            assert name in EMIT.findall(source(f)), f"{f} is listed as sending {name} but does not"
        for f in e["to"]:
            assert name in ON.findall(source(f)), f"{f} is listed as listening to {name} but does not"


def test_no_event_is_sent_or_heard_outside_the_list():
    events = listed_events()
    for path in SCRIPTS:
        text = path.read_text()
        for name in EMIT.findall(text):
            assert path.name in events.get(name, {}).get("from", []), f"{path.name} sends {name}, not listed"
        for name in ON.findall(text):
            assert path.name in events.get(name, {}).get("to", []), f"{path.name} hears {name}, not listed"
        if path.name != "page.js":        # only page.js touches the DOM events themselves
            assert not re.search(r"""CustomEvent\(\s*["']vae:|addEventListener\(\s*["']vae:""", text), path.name


INTERNALS = (r"_fullLayout", r"_size\b", r"\.l2p\(", r"\.p2l\(", r"removeAllListeners", r"\.main-svg",
             r"input\[type=(range|number)\]", r"role=tab", r"\bPlotly\b")


def test_gradio_and_plotly_internals_are_read_in_bridge_js_only():
    for path in SCRIPTS:
        if path.name == "bridge.js":
            continue
        code = "\n".join(line.split("//")[0] for line in path.read_text().splitlines())   # comments may name them
        for pattern in INTERNALS:
            assert not re.search(pattern, code), f"{path.name} reads {pattern}: go through VAE.gradio / VAE.plotly"


def test_no_rule_number_is_written_in_the_page():
    """The palette, the slerp guards and the traversal's range come from Python (VAE.rules)."""
    for path in SCRIPTS:
        code = path.read_text().lower()
        assert not [c for c in PALETTE if c.lower() in code], path.name
        assert "1e-8" not in code and "1e-4" not in code, path.name
        assert "-3 + 6" not in code and "traversal = 9" not in code, path.name


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js (CI runs node --check itself)")
@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_node_check_passes(path):
    r = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
