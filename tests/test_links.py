"""Lesson links (ui/links.py, assets/links.js): the view kept in the URL, restored on opening, and
hostile values refused with one line and defaults, never evaluated or injected."""
from urllib.parse import parse_qs, urlencode, urlsplit

import numpy as np
import pytest

from ui.links import parse

TABS = ["encode", "draw", "interpolate", "sample", "manifold", "about"]
HOSTILE = {
    "script": {"model": "<script>alert(1)</script>"},
    "nan": {"z": ",".join(["NaN"] * 16)},
    "inf": {"z": ",".join(["Infinity"] * 16)},
    "huge": {"z": ",".join(["1e9"] * 16)},
    "out of range": {"z": ",".join(["9"] * 16)},
    "1e9 dimensions": {"z": "0," * 1_000_000 + "0"},
    "too few": {"z": "0,1"},
    "tab": {"tab": "<img src=x onerror=alert(1)>"},
    "T": {"T": "-1"},
    "seed": {"seed": "1.5"},
    "t": {"t": "2"},
    "half a walk": {"a": "0," * 15 + "0"},
    "python float": {"T": "1_0"},
}


def test_a_link_parses_into_its_view(registry):
    z = [0.5, -1.25] + [0.0] * 14
    q = {"model": "fashion-mnist", "tab": "interpolate", "z": ",".join(map(str, z)), "a": ",".join(["1"] * 16),
         "b": ",".join(["-1"] * 16), "t": "0.25", "T": "0.8", "seed": "7"}
    state, message = parse(q, registry, "fashion-mnist", TABS)
    assert message == ""
    assert state == {"model": "fashion-mnist", "tab": "interpolate", "z": z, "a": [1.0] * 16, "b": [-1.0] * 16,
                     "t": 0.25, "T": 0.8, "seed": 7}


def test_no_query_is_the_default_view(registry):
    assert parse({}, registry, "fashion-mnist", TABS) == ({"model": "fashion-mnist"}, "")


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_value_is_refused_in_one_line_and_never_echoed(registry, case):
    q = HOSTILE[case]
    state, message = parse(q, registry, "fashion-mnist", TABS)
    assert state == {"model": "fashion-mnist"}                       # every refused value keeps its default
    assert message.startswith("This link's ") and "\n" not in message and len(message) < 240
    for value in q.values():
        assert value not in message                                   # named, not repeated
    assert "<" not in message


def test_a_good_value_survives_a_bad_one(registry):
    state, message = parse({"seed": "3", "T": "NaN", "model": "fashion-mnist-2d", "z": "0.5,1"}, registry,
                           "fashion-mnist", TABS)
    assert state == {"model": "fashion-mnist-2d", "seed": 3, "z": [0.5, 1.0]}
    assert message.startswith("This link's temperature T was refused")


def test_restore_sets_the_model_tab_sampler_and_walk(registry):
    import gradio as gr

    from ui.links import LinksView

    view = LinksView(registry)
    with gr.Blocks() as demo:
        view.build()
        model_dd, tabs, preset = gr.Dropdown(registry.names()), gr.Tabs(), gr.State({})
        opened = {"sample": gr.State(False), "interpolate": gr.State(False)}
        view.wire(demo, model_dd, tabs, opened, preset)
    tab_ids = {"Sample the prior": "sample", "Interpolate": "interpolate"}
    out = view.restore({"model": "fashion-mnist-2d", "tab": "sample", "T": "0.5", "seed": "9",
                        "a": "1,1", "b": "-1,0", "t": "0.75", "z": "1,2"}, tab_ids)
    assert set(out) == {view.html, preset}             # the load touches the link bar and the tabs' preset only
    link, value = out[preset], out[view.html]
    bare = view.restore({}, {})
    assert bare[view.html]["z"] is None and bare[view.html]["view"] is None and set(bare) == {view.html}
    assert link["T"] == 0.5 and link["seed"] == 9
    assert value["view"] == {"model": "fashion-mnist-2d", "tab": "sample"}       # links.js asks for these
    shown = view.show(value["view"], tab_ids)
    tab = shown[tabs]
    assert shown[model_dd]["value"] == "fashion-mnist-2d"
    assert tab.selected == "sample" if hasattr(tab, "selected") else tab["selected"] == "sample"
    assert shown[opened["sample"]] is True and opened["interpolate"] not in shown     # the link's tab is built
    # what the page sends back is checked again: a model or a tab this server lacks changes nothing
    assert view.show({"model": "no-such-model", "tab": "nowhere"}, tab_ids) == {}
    assert view.show("not a dict", tab_ids) == {}
    walk = link["walk"]
    assert walk["a"] == [1.0, 1.0] and walk["b"] == [-1.0, 0.0] and walk["t"] == 0.75
    assert value["z"] == [1.0, 2.0] and value["message"] == ""


# ---------------------------------------------------------------- in the browser
def link(app_url: str, **q) -> str:
    return app_url + "?" + urlencode(q, safe=",")


def restored(page) -> dict:
    page.wait_for_function("() => VAE.links && VAE.links.restored")
    page.wait_for_timeout(400)                                         # the URL is rewritten 150 ms after a change
    return page.evaluate("""() => ({model: VAE.state.model, z: VAE.state.z, walk: VAE.state.walk || null,
        tab: document.querySelector('button[role=tab][aria-selected=true]').textContent.trim(),
        message: document.querySelector('#links .vae-links-msg').textContent, url: location.href,
        field: document.querySelector('#links .vae-links-url').value})""")


@pytest.mark.browser
def test_a_lesson_link_round_trips(open_page, app_url):
    z = [1.5, -0.25]
    url = link(app_url, model="fashion-mnist-2d", tab="interpolate", z="1.5,-0.25", a="1,1", b="-1,0.5", t="0.25",
               T="0.6", seed="42")
    page = open_page(url)
    page.wait_for_function("() => VAE.state.model === 'fashion-mnist-2d'")
    got = restored(page)
    assert got["model"] == "fashion-mnist-2d" and got["tab"] == "Interpolate" and got["message"] == ""
    np.testing.assert_allclose(got["z"], z, atol=1e-6)                 # painted exactly that z
    assert got["walk"] == {"model": "fashion-mnist-2d", "a": [1, 1], "b": [-1, 0.5], "t": 0.25}
    page.wait_for_function("() => +document.querySelector('#walk .vae-walk').dataset.paints > 0")
    assert page.get_attribute("#walk .vae-walk", "data-t") == "0.25"
    page.get_by_role("tab", name="Sample the prior").click()
    assert page.input_value("#sample-temperature input[type=number]") == "0.6"
    assert page.input_value("#sample-seed input[type=number]") == "42"
    page.wait_for_timeout(400)
    again = parse_qs(urlsplit(page.evaluate("location.href")).query)        # the page writes the same view back
    assert again == parse_qs(urlsplit(url).query) | {"tab": ["sample"]}
    assert page.problems == [] and page.dialogs == []


@pytest.mark.browser
def test_the_url_follows_the_sliders_rounded_and_copy_link_copies_it(open_page, app_url):
    page = open_page(app_url + "?__theme=light", permissions=["clipboard-read", "clipboard-write"])
    restored(page)
    rng = page.locator("#zslider-0 input[type=range]")
    rng.focus()
    for _ in range(3):
        rng.press("ArrowRight")                                        # z0 = 0.15 (step 0.05)
    page.wait_for_function("() => new URLSearchParams(location.search).get('z').startsWith('0.15,')")
    page.locator("#links .vae-links-copy").click()
    page.wait_for_function("() => /copied/.test(document.querySelector('#links .vae-links-msg').textContent)")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.evaluate("location.href") == page.input_value("#links .vae-links-url")
    q = parse_qs(urlsplit(copied).query)
    assert q["model"] == ["fashion-mnist"] and q["tab"] == ["encode"]
    assert q["__theme"] == ["light"]                                   # Gradio's own parameters stay
    assert all(len(v.split(".")[-1]) <= 2 for v in q["z"][0].split(","))    # 2 decimals at most: short links
    assert page.problems == []


@pytest.mark.browser
@pytest.mark.parametrize("case", ["script", "nan", "1e9 dimensions", "tab"])
def test_a_hostile_link_gives_defaults_and_one_line(open_page, app_url, case):
    q = dict(HOSTILE[case])
    if case == "1e9 dimensions":
        q["z"] = "0," * 2000 + "0"                                      # as long as a URL may reasonably be
    page = open_page(link(app_url, **q))
    got = restored(page)
    assert got["message"].startswith("This link's ") and got["model"] == "fashion-mnist"
    assert set(got["z"]) == {0.0} and got["tab"] == "Encode"
    lines = page.evaluate("(() => { const m = document.querySelector('#links .vae-links-msg');"
                          " const r = m.getBoundingClientRect();"
                          " return r.height / parseFloat(getComputedStyle(m).lineHeight); })()")
    assert lines < 1.6                                                 # one line on screen
    assert page.dialogs == [] and page.locator("img[src=x]").count() == 0   # nothing ran, nothing injected
    assert page.evaluate("[...document.scripts].every(s => !s.text.includes('alert(1)'))")
    assert "alert" not in page.evaluate("location.search")              # the URL now holds the defaults
    assert page.problems == []
