"""The class view in a real browser (Debian's Chromium through Playwright, never `playwright install`): several
runs started through the API, each by its own client, appear in the grid and update; a student's name is shown
as text; a click on a tile (and Enter on one) opens that run's live view; without the teacher key a student
cannot stop another's run, a wrong key is refused, and the right one stops a run from its tile.
"""
from pathlib import Path

import pytest
from conftest import CHROMIUM, PAGE_WAIT, WEIGHTS, free_port

from ui.charts import PALETTE

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt install chromium)")]
pytest.importorskip("playwright.sync_api")

KEY = "sesame"
NAMES = ["<b>Ada</b>", "Grace", "Alan"]


@pytest.fixture(scope="module")
def class_url(tmp_path_factory):
    """The app with a teacher key, its runs in a temporary folder, one training process on one core (not niced:
    the grid must move while other work shares the machine), and three digits runs (small budgets) started
    through the API by three clients (three sessions)."""
    from gradio_client import Client

    import app
    from ui.page import build_demo

    demo = build_demo(WEIGHTS, runs=tmp_path_factory.mktemp("runs"),
                      training={"threads": 1, "processes": 1, "niceness": 0, "teacher_key": KEY})
    port = free_port()
    app.launch(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    jobs = []
    for name, beta in zip(NAMES, (0.5, 1.0, 4.0), strict=True):
        client = Client(url, verbose=False)
        token = client.predict(dataset="digits", images=[], latent_dim=2, beta=beta, seconds=40, name=name,
                               api_name="/train")["job"]
        jobs.append(client.predict(job=token, api_name="/train_status")["job"])          # the public id
    yield url, jobs
    demo.training_service.shutdown()
    demo.close()


@pytest.fixture
def open_grid(chromium):
    contexts = []

    def open_(url: str):
        ctx = chromium.new_context(viewport={"width": 1440, "height": 1000})
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(PAGE_WAIT)
        page.problems = []
        page.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load resource")
                and page.problems.append(f"console: {m.text}"))          # a failed request is the server's to say
        page.on("pageerror", lambda e: page.problems.append(f"pageerror: {e}"))
        page.goto(url)
        page.get_by_role("tab", name="Train it live").click()
        page.wait_for_function("() => !!(window.VAE && VAE.classview && VAE.classview.tiles >= 3)")
        return page
    yield open_
    for ctx in contexts:
        ctx.close()


def tile(page, name: str):
    return page.locator(".vae-tile", has=page.locator(".vae-tile-name", has_text=name))


def test_the_grid_shows_every_run_updating_and_a_tile_opens_its_live_view(class_url, open_grid):
    url, jobs = class_url
    page = open_grid(url)
    assert page.evaluate("VAE.classview.palette") == list(PALETTE)          # the live view's palette, from Python
    page.wait_for_function("() => document.querySelectorAll('.vae-tile[data-state=running]').length >= 1")
    whole = page.evaluate("VAE.classview.whole")
    page.wait_for_function("n => VAE.classview.whole >= n + 2", arg=whole)      # tiles come again as they train
    assert [page.locator(".vae-tile-name").nth(i).text_content() for i in range(3)] == NAMES
    assert tile(page, "Ada").locator("b").count() == 0                          # a name is text, never HTML
    page.wait_for_function("() => [...document.querySelectorAll('.vae-tile-knn')]"
                           ".some(e => /classes separate: 0\\.\\d\\d/.test(e.textContent))")

    tile(page, "Grace").locator(".vae-tile-open").click()
    page.wait_for_function("job => window.VAE && VAE.train && VAE.train.job === job && VAE.train.updates > 0",
                           arg=jobs[1])
    assert "(Grace)" in page.text_content("#train-view .vae-train-status")
    page.wait_for_function("() => /of its own training time/"
                           ".test(document.querySelector('.vae-train-time').textContent)")

    alan = tile(page, "Alan").locator(".vae-tile-open")
    assert "Alan" in alan.get_attribute("aria-label") and "Open its live view" in alan.get_attribute("aria-label")
    alan.focus()
    page.keyboard.press("Enter")                                                # a tile is a button
    page.wait_for_function("job => window.VAE && VAE.train && VAE.train.job === job", arg=jobs[2])
    assert page.problems == []


def test_without_the_teacher_key_a_student_cannot_stop_another_s_run(class_url, open_grid):
    url, jobs = class_url
    student = open_grid(url)
    assert student.locator(".vae-tile-stop:visible").count() == 0              # watch-only
    tile(student, "Alan").locator(".vae-tile-open").click()
    student.wait_for_function("job => window.VAE && VAE.train && VAE.train.job === job", arg=jobs[2])
    student.click("#train-stop")                                                # the page's Stop: not its run
    toast = student.locator(".toast-body.error")
    toast.wait_for()
    assert "token" in toast.inner_text()

    student.fill(".vae-class-key", "open sesame")
    student.click(".vae-class-use")
    student.wait_for_function("() => /not the teacher key/.test(document.querySelector('.vae-class-teacher-says')"
                              ".textContent)")
    assert student.locator(".vae-tile-stop:visible").count() == 0
    state = student.evaluate("job => [...document.querySelectorAll('.vae-tile')].find(t => t.dataset.job === job)"
                             ".dataset.state", jobs[2])
    assert state in ("queued", "running", "done")

    student.fill(".vae-class-key", KEY)                                         # the teacher, at the same page
    student.click(".vae-class-use")
    student.wait_for_function("() => VAE.classview.teacher === true")
    assert student.evaluate("document.querySelector('.vae-class').textContent").find(KEY) == -1
    if state != "done":
        tile(student, "Alan").locator(".vae-tile-stop").click()
        tile(student, "Alan").scroll_into_view_if_needed()                    # the grid polls while on screen
        student.wait_for_function("job => ['stopped', 'done'].includes([...document.querySelectorAll('.vae-tile')]"
                                  ".find(t => t.dataset.job === job).dataset.state)", arg=jobs[2], timeout=240_000)
    assert student.problems == []
