"""One rule, two places: the page applies the server's rules (placing z on the map, lerp and slerp, the
traversal, the palette) with the numbers Python sends (ui/runtime.py). Here the page's answers are
compared with Python's, in Debian's Chromium, on two shipped models."""
import numpy as np
import pytest
import torch

from model.nets.walk import lerp, slerp, traversal_values
from ui.runtime import page_rules

pytestmark = pytest.mark.browser

MODELS = ("fashion-mnist", "fashion-mnist-vq")      # 16-D (UMAP of 10,000 means) and 196-D (a VQ-VAE's codes)
N_Z = 50
TS = (0.1, 0.5, 0.9)

PLACE_JS = """async ([model, zs]) => {
  const at = await VAE.place.cached(model);
  return zs.map(z => ({index: Array.from(VAE.place.neighbours(at, z).index), xy: VAE.place.place(at, z)}));
}"""
WALK_JS = """([pairs, ts]) => pairs.map(([a, b]) => ts.map(t => ({
  lerp: VAE.latent.lerp(a, b, t), slerp: VAE.latent.slerp(a, b, t, VAE.rules.slerp)})))"""


@pytest.fixture(scope="module")
def pages(open_page, app_url):
    """One page per model, each opened on its lesson link and decoding, with the map's atlas loaded."""
    def opened(model):
        page = open_page(f"{app_url}?model={model}")
        page.wait_for_function("(m) => VAE.state.model === m && VAE.place.cached(m) !== null", arg=model)
        return page
    return opened


def random_z(m, n: int, seed: int) -> np.ndarray:
    """n float32 latent vectors within the model's slider range (what the page keeps in a Float32Array)."""
    z = np.random.default_rng(seed).standard_normal((n, m.dim)) * 1.5
    return np.clip(z, -m.latent_limit, m.latent_limit).astype(np.float32)


@pytest.mark.parametrize("name", MODELS)
def test_the_page_places_z_by_pythons_rule(pages, registry, name):
    m = registry.get(name)
    page = pages(name)
    z = random_z(m, N_Z, seed=1)
    got = page.evaluate(PLACE_JS, [name, z.astype(float).tolist()])
    want_index, _ = m.map_index.neighbours(z)
    want_xy = m.map_index.place(z)
    assert [g["index"] for g in got] == want_index.tolist()          # the same k neighbours, in the same order
    err = np.abs(np.array([g["xy"] for g in got]) - want_xy).max()
    assert err < 1e-5, err
    assert not np.allclose(want_xy, want_xy[0])                      # 50 different places, not one


@pytest.mark.parametrize("name", MODELS)
def test_the_page_walks_like_python(pages, registry, name):
    m = registry.get(name)
    page = pages(name)
    a, b = random_z(m, 6, seed=2)[:3], random_z(m, 6, seed=2)[3:]
    pairs = [(a[0], b[0]), (a[1], b[1]), (a[2], a[2] * 2.0),          # the last two: parallel ends, and one end
             (np.zeros(m.dim, np.float32), b[2])]                     # at the origin (slerp's two guards: lerp)
    got = page.evaluate(WALK_JS, [[[p.astype(float).tolist(), q.astype(float).tolist()] for p, q in pairs], list(TS)])
    worst = 0.0
    for (p, q), row in zip(pairs, got, strict=True):
        p64, q64 = torch.from_numpy(p.astype(np.float64)), torch.from_numpy(q.astype(np.float64))
        for t, g in zip(TS, row, strict=True):
            tt = torch.tensor([t], dtype=torch.float64)
            for name_, fn in (("lerp", lerp), ("slerp", slerp)):
                worst = max(worst, float(np.abs(np.array(g[name_]) - fn(p64, q64, tt)[0].numpy()).max()))
    assert worst < 1e-5, worst
    spherical, linear = np.array(got[0][1]["slerp"]), np.array(got[0][1]["lerp"])
    assert np.linalg.norm(spherical) > np.linalg.norm(linear) + 0.1   # slerp keeps |z|: the two really differ


def test_the_page_holds_pythons_numbers(pages, registry):
    """The rules' numbers in the page are the ones Python sent, and the atlas carries MapIndex's k and eps."""
    page = pages("fashion-mnist")
    rules = page.evaluate("VAE.rules")
    assert rules == page_rules()
    assert rules["traversal"] == traversal_values() == pytest.approx(np.linspace(-3, 3, 9))
    at = page.evaluate("VAE.place.cached('fashion-mnist').then(a => [a.k, a.eps])")
    index = registry.get("fashion-mnist").map_index
    assert at == [index.k, index.eps]
