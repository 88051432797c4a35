"""Model kinds (model/nets/kinds/): each kind defined once, and everything else asking its capabilities.

A toy kind, registered here and nowhere else, goes end to end: config, network, losses, weights files, the
registry, the explorer's requests and the page's words. Then: every shipped model's kind resolves, and no
module outside model/nets/kinds/ compares a kind's name.
"""
from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from model import VAEConfig, load_vae, save_pretrained
from model.nets.kinds import ModelKind, forget_kind, kind_names, kind_of, register_kind
from model.nets.limits import SLIDER_LIMIT, ExplorerError
from model.nets.losses import elbo_terms, iwae_bound
from model.nets.vae import ConvVAE
from model.nets.walk import prior_draws, sample_prior

ROOT = Path(__file__).resolve().parents[1]


class SquashedKind(ModelKind):
    """A bounded autoencoder: the code is tanh(encoder output), so every z lies in (-1, 1)."""

    def validate(self, cfg) -> None:
        if cfg.latent_dim % 2:
            raise ValueError("kind 'toy' needs an even latent_dim")

    def posterior(self, vae, h):
        return super().posterior(vae, torch.tanh(h))


TOY = SquashedKind(name="toy", label="squashed autoencoder", order=99, prior_scaled=False,
                   about="a squashed autoencoder: z = tanh(encoder(x)), latent {c.latent_dim}",
                   compare_note=("The toy's codes are bounded.", " tanh keeps every z in (-1, 1)."),
                   samples_from="z ~ N(0, I), mostly outside its codes")


@pytest.fixture
def toy():
    register_kind(TOY)
    yield TOY
    forget_kind("toy")


def tiny_cfg(kind: str, **kw) -> VAEConfig:
    return VAEConfig(**{"widths": (8, 16), "hidden": 32, "latent_dim": 4, "kind": kind,
                        "class_names": tuple("0123456789")} | kw)


def test_a_toy_kind_is_known_only_while_registered(toy):
    assert "toy" in kind_names() and kind_of("toy") is toy and kind_of(tiny_cfg("toy")) is toy
    with pytest.raises(ValueError, match="even latent_dim"):          # the kind's own check runs
        tiny_cfg("toy", latent_dim=3)
    forget_kind("toy")
    with pytest.raises(ValueError, match="kind must be one of"):
        tiny_cfg("toy")
    register_kind(toy)


def test_a_kind_cannot_be_defined_twice(toy):
    register_kind(toy)                                                # the same kind again: harmless
    with pytest.raises(ValueError, match="defined twice"):
        register_kind(dataclasses.replace(toy, label="another"))


def test_a_toy_kind_builds_encodes_decodes_and_trains(toy):
    torch.manual_seed(0)
    vae = ConvVAE(tiny_cfg("toy"))
    assert vae.quantizer is None and vae.encoder.out.out_features == 4     # one number per dimension: no sigma
    x = torch.rand(3, 1, 28, 28)
    mu, logvar = vae.encode(x)
    assert logvar is None and mu.shape == (3, 4) and mu.abs().max() < 1       # the toy's hook squashed it
    assert torch.equal(vae.reparameterize(mu, logvar), mu)
    assert vae.decode(mu).shape == (3, 1, 28, 28)
    terms = elbo_terms(vae, x)
    assert terms["kl"] == 0 and torch.equal(terms["loss"], terms["recon"])   # no KL term
    terms["loss"].backward()
    assert vae.encoder.out.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="Gaussian"):                         # no sigma: no IWAE
        iwae_bound(vae, x, k=2)
    assert torch.equal(prior_draws(vae, 5, 0.5, 7), sample_prior(5, 4, 0.5, 7))  # no learned prior


def test_a_kind_made_from_another_inherits_its_hooks(toy):
    """One line makes a kind with a VAE's Gaussian posterior: sigma, a KL term, the IWAE bound."""
    gauss = register_kind(dataclasses.replace(kind_of("vae"), name="toy-gauss", label="Gaussian toy", order=98))
    try:
        vae = ConvVAE(tiny_cfg("toy-gauss"))
        x = torch.rand(2, 1, 28, 28)
        mu, logvar = vae.encode(x)
        assert logvar is not None and vae.encoder.out.out_features == 8
        assert elbo_terms(vae, x)["kl"] > 0 and iwae_bound(vae, x, k=2).shape == (2,)
        assert gauss.atlas_keys == ("kl_per_dim",) and toy.atlas_keys == ("code_var",)
    finally:
        forget_kind("toy-gauss")


def test_a_toy_model_goes_through_files_registry_requests_and_page_words(toy, tmp_path):
    from model.data import load_digits
    from model.serving import requests as ex
    from model.serving import typicality as st
    from model.serving.registry import ModelRegistry
    from model.training.evaluate import build_atlas
    from ui import text

    torch.manual_seed(0)
    vae = ConvVAE(tiny_cfg("toy")).eval()
    save_pretrained(vae, tmp_path / "tiny-toy")
    assert json.loads((tmp_path / "tiny-toy" / "config.json").read_text())["kind"] == "toy"
    loaded = load_vae(tmp_path / "tiny-toy")                                  # strict: every tensor matches
    assert all(torch.equal(a, b) for a, b in zip(vae.state_dict().values(), loaded.state_dict().values(),
                                                 strict=True))
    build_atlas(loaded, load_digits("test"), tmp_path / "tiny-toy", method="pca")
    m = ModelRegistry(tmp_path).get("tiny-toy")
    assert m.latent_limit == max(SLIDER_LIMIT, np.ceil(np.abs(m.atlas["mu"]).max() * 1.1))   # not prior-scaled

    info = ex.encode(m, Image.fromarray(np.zeros((8, 8), dtype=np.uint8)))
    assert info["sigma"] is None and info["kl"] is None and info["elbo"] is None and info["z"] == info["mu"]
    with pytest.raises(ExplorerError, match="squashed autoencoder: its encoder gives one point and no sigma"):
        ex.reparameterize(m, info["mu"], [0.0] * 4, 1)
    with pytest.raises(ExplorerError, match="is a squashed autoencoder: it has no KL term"):
        st.reference(m)
    images, z = ex.sample(m, 3, 1.0, 0)
    assert len(images) == 3 and z.shape == (3, 4)

    about = text.about_markdown(m)
    assert "a squashed autoencoder: z = tanh(encoder(x)), latent 4" in about and "active units" in about
    assert text.compare_note(["toy", "vae"]).endswith("**The toy's codes are bounded.** tanh keeps every z in (-1, 1).")
    assert text.slider_label(m, 0).startswith("z0 · ") and "KL" not in text.slider_label(m, 0)


@pytest.mark.parametrize("folder", sorted(p.parent.name for p in (ROOT / "weights").glob("*/config.json")))
def test_every_shipped_models_kind_resolves_and_its_atlas_has_what_the_kind_needs(folder):
    path = ROOT / "weights" / folder
    cfg = VAEConfig.from_dict(json.loads((path / "config.json").read_text()))
    kind = kind_of(cfg)
    assert kind.name in kind_names() and kind.label
    with np.load(path / "atlas.npz") as atlas:
        assert set(kind.atlas_keys) <= set(atlas.files)


def test_the_shipped_kinds_and_what_each_can_do():
    caps = {n: (k.has_encoder, k.has_sigma, k.has_kl, k.has_likelihood, k.learned_prior, k.spatial, k.prior_scaled)
            for n in kind_names() if (k := kind_of(n))}
    assert {n: caps[n] for n in ("vae", "ae", "vq", "gan")} == {
        "vae": (True, True, True, True, False, False, True),
        "ae": (True, False, False, False, False, False, False),
        "vq": (True, False, True, True, True, True, False),
        "gan": (False, False, False, False, False, False, True)}


# ---------------------------------------------------------------- no kind compared by name
def kind_comparisons(source: str, where: str, names: set[str]) -> list[str]:
    """Where source compares something named like a kind with a kind's name (`cfg.kind == "vq"`,
    `r["kind"] in ("vae", "gan")`), or keys a dict by kinds' names (a table per kind outside its file)."""
    found = []

    def is_name(node) -> bool:
        if isinstance(node, ast.Constant):
            return node.value in names
        return isinstance(node, ast.Tuple | ast.List | ast.Set) and any(is_name(e) for e in node.elts)

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(is_name(s) for s in sides) and any("kind" in ast.get_source_segment(source, s)
                                                      for s in sides if not is_name(s)):
                found.append(f"{where}:{node.lineno}: {ast.get_source_segment(source, node)}")
        elif isinstance(node, ast.Dict):
            if sum(isinstance(k, ast.Constant) and k.value in names for k in node.keys) >= 2:
                found.append(f"{where}:{node.lineno}: a dict keyed by kinds' names")
    return found


def test_no_module_outside_the_kinds_compares_a_kinds_name():
    names = set(kind_names())
    files = [ROOT / "app.py", *sorted((ROOT / "model").rglob("*.py")), *sorted((ROOT / "ui").rglob("*.py"))]
    found = [hit for f in files if "kinds" not in f.relative_to(ROOT).parts
             for hit in kind_comparisons(f.read_text(), str(f.relative_to(ROOT)), names)]
    assert not found, "branch on a capability (model/nets/kinds/), not on the name:\n" + "\n".join(found)


def test_the_check_above_catches_each_way_of_comparing():
    source = ('def f(cfg, r):\n    a = cfg.kind == "vq"\n    b = r["kind"] not in ("vae", "gan")\n'
              '    c = "ae" != vae.kind\n'
              '    return {"vae": 1, "ae": 2}.get(cfg.kind), a, b, c, cfg.kind == cfg.other\n')
    assert len(kind_comparisons(source, "probe", set(kind_names()))) == 4
