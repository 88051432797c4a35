"""Model kinds, each defined once: what a VAE, an autoencoder, a VQ-VAE or a GAN can do.

Every other module asks a kind for a capability (`kind_of(cfg).has_sigma`), never compares its name, so a
new kind is one new module in this package (defining `KIND`) and its tests. The package finds its modules
the first time a kind is looked up, not at import time.
"""
from __future__ import annotations

import importlib
import pkgutil
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelKind:
    """A kind's capabilities, its words for the page, and hooks where its network differs.

    The defaults describe the plainest kind: an encoder that gives one point (no σ, no KL, no likelihood),
    z drawn from N(0, T² I), one vector per image. A subclass overrides a hook only where the kind differs.
    """

    name: str                         # config.json's "kind"
    label: str                        # what the page calls it ("VAE", "plain autoencoder")
    order: int = 100                  # its place in lists and in the Compare tab's notes
    has_encoder: bool = True          # it can encode an image (a GAN's generator cannot)
    has_sigma: bool = False           # q(z|x) is a Gaussian with a variance: ε, reparameterize, IWAE, KL per dim
    has_kl: bool = False              # a KL term, so an ELBO
    has_likelihood: bool = False      # its ELBO bounds log p(x): it can judge how typical an image is
    learned_prior: bool = False       # samples come through a prior over its codes (prior_codes), not N(0, T² I)
    spatial: bool = False             # z is a grid of codebook entries, one per position of the bottleneck
    prior_scaled: bool = True         # z stays near N(0, I) (a KL term holds it, or it is drawn from it)
    about: str = ""                   # the About tab's line, formatted with c = the VAEConfig
    compare_note: tuple[str, str] = ("", "")   # the Compare tab's lesson: a lead sentence (bold) and the rest
    picker_note: tuple[str, str] = ("", "")    # said under the model picker, the same way
    samples_from: str = "z ~ N(0, I)"          # where its samples come from, in the Compare tab's captions
    marker: tuple[str, str] = ("circle", "#64748b")   # plot symbol and colour in the sample-quality chart

    @property
    def encoder_outputs(self) -> int:
        """Numbers the encoder gives per latent dimension: mu and logvar with σ, else the code alone."""
        return 2 if self.has_sigma else 1

    @property
    def atlas_keys(self) -> tuple[str, ...]:
        """What atlas.npz holds beyond the means and map, to rank the sliders: the KL per dimension where
        there is one, else the codes' variance."""
        return ("kl_per_dim",) if self.has_sigma else ("code_var",)

    def about_line(self, cfg) -> str:
        return self.about.format(c=cfg)

    def samples_caption(self, vae) -> str:
        return self.samples_from

    def validate(self, cfg) -> None:
        """Checks a VAEConfig of this kind needs beyond the shared ones; raises ValueError."""

    def make_quantizer(self, cfg):
        """The module that snaps codes to a codebook (ConvVAE.quantizer), or None."""
        return None

    def posterior(self, vae, h):
        """The encoder's output h (B, encoder_outputs * D) as q(z|x): here a point code (model.nets.posterior)."""
        from ..posterior import PointCode
        return PointCode(h)

    def prior_codes(self, vae, n: int, temperature: float, seed: int):
        """n draws of z (n, D) through the learned prior; only for kinds with learned_prior."""
        raise ValueError(f"a {self.label} has no learned prior")


_KINDS: dict[str, ModelKind] = {}
_found = False
_lock = threading.Lock()


def _discover() -> None:
    """Import every module of this package once and register its KIND."""
    global _found
    with _lock:
        if _found:
            return
        for info in pkgutil.iter_modules(__path__):
            register_kind(importlib.import_module(f"{__name__}.{info.name}").KIND)
        _found = True


def register_kind(kind: ModelKind) -> ModelKind:
    """Add a kind (a plugin's, a test's); the package's own modules are found by themselves."""
    known = _KINDS.get(kind.name)
    if known is not None and known != kind:
        raise ValueError(f"kind {kind.name!r} is defined twice")
    _KINDS[kind.name] = kind
    return kind


def forget_kind(name: str) -> None:
    """Remove a registered kind (what a test that registered one does when it ends)."""
    _KINDS.pop(name, None)


def kind_names() -> tuple[str, ...]:
    """Every known kind's name, in its order."""
    _discover()
    return tuple(k.name for k in sorted(_KINDS.values(), key=lambda k: (k.order, k.name)))


def kind_of(thing) -> ModelKind:
    """The ModelKind of a name, a VAEConfig, or anything with a .config or a .kind (a model, an entry, args)."""
    if isinstance(thing, ModelKind):
        return thing
    name = thing if isinstance(thing, str) else getattr(thing, "config", thing).kind
    _discover()
    if name not in _KINDS:
        raise ValueError(f"kind must be one of {kind_names()}, got {name!r}")
    return _KINDS[name]
