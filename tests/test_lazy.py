"""Tabs built when first opened (ui/lazy.py) and the HTTP API on a page of its own: the page a student opens
is sent only the first view and the Encode tab; a tab is built once per page, keeps what was set in it, follows
the model picker, and is that page's own; every endpoint keeps its name and parameters."""
from pathlib import Path

import pytest
from conftest import CHROMIUM

LAZY_TABS = ["Draw", "Is this typical?", "Interpolate", "Sample the prior", "Manifold (2-D)",
             "Compare: why a VAE", "Train it live", "About"]


@pytest.fixture(scope="module")
def config():
    import app
    return app.build_demo().get_config_file()


def test_the_page_a_student_opens_holds_only_the_first_view_and_the_encode_tab(config):
    comps = {c["id"]: c for c in config["components"]}
    main = config["page"][""]
    assert len(main["components"]) < 100 < len(config["components"])       # the API's are on their own page
    tabs = {}

    def walk(node):
        c = comps.get(node["id"], {})
        if c.get("type") == "tabitem":
            tabs[c["props"]["label"]] = node.get("children", [])
        for child in node.get("children", []):
            walk(child)
    walk(main["layout"])
    assert set(tabs) == {"Encode", *LAZY_TABS}
    assert len(tabs["Encode"]) > 2
    for label in LAZY_TABS:                     # a flag and an empty place for the render: nothing else
        kinds = sorted(comps[child["id"]]["type"] for child in tabs[label])
        assert kinds == ["column", "state"] and all(not child.get("children") for child in tabs[label]), label
    page_deps = [d for d in config["dependencies"] if d["id"] in set(main["dependencies"])]
    assert page_deps and not [d["api_name"] for d in page_deps if d["api_visibility"] == "public"]
    load = [d for d in page_deps if any(event == "load" for _, event in d["targets"])]
    assert len(load) == 1 and len(load[0]["outputs"]) == 2          # the link bar's value and the tabs' preset


def test_every_endpoint_keeps_its_name_and_parameters_on_the_api_page(config):
    import app
    info = app.build_demo().get_api_info()["named_endpoints"]
    assert {"/decode", "/pick", "/attribute", "/encode", "/interpolate", "/sample", "/compare", "/train",
            "/train_ready", "/train_status", "/train_set", "/train_stop", "/models", "/typicality",
            "/typicality_batch"} <= set(info)
    names = {e: [p["parameter_name"] for p in info[e]["parameters"]] for e in ("/encode", "/interpolate",
                                                                                "/compare", "/typicality")}
    assert names == {"/encode": ["image", "model"], "/interpolate": ["image_a", "image_b", "steps", "method", "model"],
                     "/compare": ["image", "models", "seed"], "/typicality": ["image", "model"]}
    api_page = set(config["page"]["http-api"]["dependencies"])
    public = [d for d in config["dependencies"] if d["api_visibility"] == "public"]
    assert len(public) >= 15 and all(d["id"] in api_page for d in public)


# ---------------------------------------------------------------- in the browser


def mark_browser(test):
    needs = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt install chromium)")
    return needs(pytest.mark.slow(pytest.mark.browser(test)))


TEMPERATURE = "#sample-temperature input[type=number]"


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def second_page(page, url: str):
    """Another page of the app beside `page` (open_page keeps one at a time): another Gradio session."""
    other = page.context.new_page()
    other.problems = []
    other.on("pageerror", lambda e: other.problems.append(f"pageerror: {e}"))
    other.goto(url)
    other.wait_for_function("() => window.VAE && VAE.stats && VAE.stats.paints > 0")
    return other


@mark_browser
def test_a_tab_is_built_once_per_page_keeps_its_values_and_is_that_pages_own(open_page, app_url):
    one = open_page(app_url)
    two = second_page(one, app_url)
    assert one.locator("#samples").count() == 0                       # not built before it is opened
    open_tab(one, "Sample the prior")
    one.fill(TEMPERATURE, "0.55")
    one.press(TEMPERATURE, "Enter")
    one.get_by_role("button", name="Sample", exact=True).click()
    one.wait_for_function("() => document.querySelectorAll('#samples button.thumbnail-item').length >= 16")
    open_tab(one, "Encode")
    open_tab(one, "Sample the prior")
    one.wait_for_timeout(600)                                          # a second build would arrive by now
    assert one.input_value(TEMPERATURE) == "0.55" and one.locator("#samples").count() == 1
    assert one.locator("#samples button.thumbnail-item").count() >= 16   # the draws are still there
    open_tab(two, "Sample the prior")                                   # the other page: its own, untouched
    assert two.input_value(TEMPERATURE) == "1"
    two.wait_for_timeout(600)
    assert two.locator("#samples button.thumbnail-item").count() == 0
    two.get_by_role("button", name="Sample", exact=True).click()        # and it works on its own
    two.wait_for_function("() => document.querySelectorAll('#samples button.thumbnail-item').length >= 16")
    assert one.problems == [] and two.problems == []


@mark_browser
def test_a_tab_built_later_follows_the_model_picker_and_takes_input(open_page, app_url):
    page = open_page(app_url)
    page.wait_for_selector("#latent-map [data-ready='1'], #latent-map[data-ready='1']", state="attached")
    open_tab(page, "Manifold (2-D)")
    panel = page.get_by_role("tabpanel").filter(has_text="decoded grid")
    note = panel.get_by_text("Pick the 2-D model")
    note.wait_for()                                                     # the default model is 16-D: the note
    page.locator("#model-picker input").fill("fashion-mnist-2d")
    page.locator("#model-picker input").press("Enter")
    panel.locator("img").first.wait_for()                              # the 2-D model: its decoded grid
    note.wait_for(state="hidden")
    open_tab(page, "Train it live")                                     # built later, yet its controls take input
    digits = page.locator("#train-dataset label").filter(has_text="digits")
    digits.click()
    assert page.locator("#train-dataset input[value^='digits']").is_checked()
    assert page.problems == []


@mark_browser
def test_the_http_api_page_lists_every_endpoint_and_the_page_links_to_it(open_page, app_url):
    page = open_page(app_url)
    page.wait_for_selector("#latent-map [data-ready='1'], #latent-map[data-ready='1']", state="attached")
    link = page.get_by_role("link", name="HTTP API")
    assert link.get_attribute("href") == "http-api"
    missing = []
    page.on("response", lambda r: r.status == 404 and missing.append(r.url.split("?")[0]))
    link.click()
    page.wait_for_url("**/http-api")
    page.locator("footer .show-api").click()
    for endpoint in ("/encode", "/interpolate", "/typicality_batch"):
        page.get_by_text(endpoint, exact=True).first.wait_for()
    # Gradio's API docs ask for its MCP schema and monitoring, which this app does not serve: their 404s only
    assert all(u.endswith(("/gradio_api/mcp/schema", "/monitoring/summary")) for u in missing), missing
    assert [p for p in page.problems if "404" not in p] == []
