"""Accessibility: axe-core (vendored, pinned: tests/vendor/axe-core, reproduced by tools/vendor_axe.sh) run
over the page in Chromium, the first view and every tab in turn, in one page: no critical or serious
violation anywhere. Also the page's own text alternatives: the decoded image's spoken line (an aria-live
region) and the map's keyboard operation."""
import json
from pathlib import Path

import pytest
from conftest import CHROMIUM

ROOT = Path(__file__).resolve().parents[1]
AXE = ROOT / "tests" / "vendor" / "axe-core" / "4.14.1" / "axe.min.js"
FAIL_ON = ("critical", "serious")

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt install chromium)")]
pytest.importorskip("playwright.sync_api")

# axe over `selector` (the whole page, or one tab's panel): [{id, impact, nodes: [html, ...]}]
RUN_AXE = """async (selector) => {
  const r = await axe.run(selector ? document.querySelector(selector) : document,
                          {resultTypes: ['violations'], rules: {region: {enabled: false}}});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                 nodes: v.nodes.slice(0, 5).map(n => n.html.slice(0, 160) + ' | ' +
                                   n.any.concat(n.all).map(c => c.message).join('; ').slice(0, 200))}));
}"""
TABS_JS = "() => [...document.querySelectorAll('button[role=tab]')].map(b => b.textContent.trim())"
SELECTED_JS = ("n => { const b = [...document.querySelectorAll('button[role=tab]')]"
               ".find(b => b.textContent.trim() === n); return !!b && b.getAttribute('aria-selected') === 'true'; }")
IDLE_JS = "() => !document.querySelector('.progress-text, .eta-bar')"
# a tab is built when first opened (ui/lazy.py): its panel holds components (Gradio's .block) once built
BUILT_JS = "() => !!document.querySelector('[role=tabpanel]:not([hidden]):not([style*=\"display: none\"]) .block')"


def serious(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in FAIL_ON]


def test_axe_finds_no_serious_violation_on_any_tab(open_page, app_url):
    """One page, every tab opened in turn (the first view with the first tab, then each tab's panel)."""
    page = open_page(app_url, viewport={"width": 1440, "height": 1000})
    page.wait_for_selector("#latent-map [data-ready='1'], #latent-map[data-ready='1']", state="attached")
    page.add_script_tag(content=AXE.read_text())
    found = {"first view": page.evaluate(RUN_AXE, None)}
    tabs = page.evaluate(TABS_JS)
    assert len(tabs) >= 8, tabs
    for name in tabs[1:]:
        page.get_by_role("tab", name=name, exact=True).click()
        page.wait_for_function(SELECTED_JS, arg=name)
        page.wait_for_function(BUILT_JS)
        page.wait_for_timeout(400)                       # the tab's components mount
        page.wait_for_function(IDLE_JS)
        found[name] = page.evaluate(RUN_AXE, "[role=tabpanel]:not([hidden]):not([style*='display: none'])")
    summary = {tab: sorted(f"{v['impact']}: {v['id']}" for v in vs) for tab, vs in found.items()}
    print("axe-core 4.14.1 per tab:", json.dumps(summary, indent=1))
    bad = {tab: serious(vs) for tab, vs in found.items() if serious(vs)}
    assert not bad, json.dumps(bad, indent=1)
    assert not page.problems, page.problems


def test_the_decoded_image_and_the_samples_are_named_and_the_map_works_from_the_keyboard(open_page, app_url):
    """The shipped classifier names the decoded image (its label, the visible line, the live region) and each
    sample; the map takes the arrow keys and Enter (a new z, as a click on a point gives)."""
    page = open_page(app_url, viewport={"width": 1440, "height": 1000})
    page.wait_for_function("() => (document.querySelector('#live canvas.vae-decoded').getAttribute('aria-label') || '')"
                           ".startsWith('decoded image: looks like')")
    said = page.evaluate("[document.querySelector('#live .vae-describe').textContent,"
                         " document.querySelector('#live .vae-describe-live').textContent]")
    assert said[0].startswith("looks like") and said[0].endswith("%)"), said
    page.wait_for_function("() => document.querySelector('#live .vae-describe-live').textContent !== ''")
    assert page.get_attribute("#live .vae-describe-live", "aria-live") == "polite"

    z0 = page.evaluate("VAE.state.z.slice()")
    page.focus("#latent-map .vae-map")
    for key in ("ArrowRight", "ArrowRight", "ArrowUp"):
        page.keyboard.press(key)
    line = page.text_content("#latent-map .vae-map-keyline")
    assert line.startswith("nearest: ") and "test image #" in line, line
    page.keyboard.press("Enter")
    page.wait_for_function("z0 => VAE.state.z.some((v, i) => Math.abs(v - z0[i]) > 1e-3)", arg=z0)

    page.get_by_role("tab", name="Sample the prior", exact=True).click()
    page.get_by_role("button", name="Sample", exact=True).click()
    page.wait_for_function("() => document.querySelectorAll('#samples button.thumbnail-item').length >= 16")
    names = page.eval_on_selector_all("#samples button.thumbnail-item",
                                      "els => els.map(e => e.getAttribute('aria-label'))")
    assert all(n and n.startswith("looks like") for n in names), names
    assert not page.problems, page.problems
