"""A server call the page makes fails: the page says so in one line where a blank used to be, and keeps
working. Each failure is made by answering one of the runtime's server functions with an error."""
import json
import re

import pytest

pytestmark = pytest.mark.browser


def failing(page, fn_name: str) -> None:
    """Answer every call of the component server function `fn_name` with HTTP 500."""
    def handle(route):
        body = route.request.post_data or ""
        try:
            name = json.loads(body).get("fn_name")
        except (ValueError, AttributeError):
            name = None
        if name == fn_name:
            route.fulfill(status=500, body="simulated failure")
        else:
            route.continue_()
    page.route(re.compile(r".*/gradio_api/component_server/?$"), handle)


@pytest.fixture
def page(chromium, app_url):
    ctx = chromium.new_context(viewport={"width": 1440, "height": 1000})
    p = ctx.new_page()
    p.set_default_timeout(90_000)
    p.app_url = app_url
    yield p
    ctx.close()


def test_a_map_that_cannot_load_its_points_says_so(page):
    failing(page, "map_points_url")
    page.goto(page.app_url)
    card = page.locator("#latent-map .vae-map-card")
    card.wait_for(state="visible")
    assert card.inner_text().startswith("the map could not be drawn:")
    page.wait_for_function("() => window.VAE && VAE.stats && VAE.stats.paints > 0")      # the image still paints
    assert page.locator("#latent-map").get_attribute("data-ready") is None


def test_a_star_that_cannot_be_placed_says_so_and_the_image_still_decodes(page):
    failing(page, "atlas_means_url")
    page.goto(page.app_url)
    page.wait_for_function("() => window.VAE && VAE.stats && VAE.stats.paints > 0 && VAE.state.backend === 'wasm'")
    status = page.locator("#live .vae-status")
    page.wait_for_function("() => document.querySelector('#live .vae-status').textContent.includes('star')")
    assert "the star cannot be placed on the map" in status.inner_text()
