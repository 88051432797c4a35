"""The networks that travel beside a model in its weights folder, each as JSON + safetensors, written
atomically and loaded strictly (nothing unpickled): the VQ-VAE's learned prior (prior.json,
prior.safetensors) and the sample-quality classifier (classifier.json, classifier.safetensors)."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..nets.classifier import CLASSIFIER_CONFIG_NAME, CLASSIFIER_WEIGHTS_NAME, Classifier, ClassifierConfig
from ..nets.kinds import kind_of
from ..nets.prior import PRIOR_CONFIG_NAME, PRIOR_WEIGHTS_NAME, PixelCNNPrior, PriorConfig
from .weights import WeightsError, load_network, save_network


def save_prior(prior: PixelCNNPrior, directory: str | os.PathLike, half: bool = False) -> None:
    """prior.json and prior.safetensors into directory (atomic, like save_pretrained)."""
    d = Path(directory)
    save_network(prior, prior.config.to_dict(), d / PRIOR_WEIGHTS_NAME, d / PRIOR_CONFIG_NAME, half=half)


def attach_prior(vae, directory: str | os.PathLike) -> bool:
    """Give a model whose kind samples through a learned prior (a VQ-VAE) the prior its weights folder holds
    (prior.json, prior.safetensors), if it holds one, so that model.nets.walk.prior_draws samples through it.
    The prior stays outside the VAE's state dict (a plain attribute, not a submodule): model.safetensors and
    the ONNX decoder are unchanged by it."""
    if not kind_of(vae).learned_prior or not (Path(directory) / PRIOR_CONFIG_NAME).is_file():
        return False
    prior = load_prior(directory)
    c = prior.config
    if c.grid != vae.config.bottleneck or c.codebook_size != vae.config.codebook_size:
        raise WeightsError(f"{Path(directory) / PRIOR_CONFIG_NAME}: a {c.grid}x{c.grid} grid of {c.codebook_size} "
                           f"codes, but the VQ-VAE has {vae.config.bottleneck}x{vae.config.bottleneck} of "
                           f"{vae.config.codebook_size}")
    object.__setattr__(vae, "code_prior", prior)        # not nn.Module.__setattr__: no submodule, no state dict
    return True


def load_prior(directory: str | os.PathLike, device: str | torch.device = "cpu") -> PixelCNNPrior:
    """Rebuild the prior a folder holds, float32, in eval mode, strict about every tensor."""
    d = Path(directory)
    prior = load_network(lambda cfg: PixelCNNPrior(PriorConfig.from_dict(cfg)), d / PRIOR_WEIGHTS_NAME,
                         d / PRIOR_CONFIG_NAME, "train a prior with `python -m model prior WEIGHTS --out DIR`")
    return prior.to(device)


def save_classifier(model: Classifier, directory: str | os.PathLike, half: bool = False) -> None:
    """classifier.json and classifier.safetensors into directory (atomic; half=True stores float16)."""
    d = Path(directory)
    save_network(model, model.config.to_dict(), d / CLASSIFIER_WEIGHTS_NAME, d / CLASSIFIER_CONFIG_NAME, half)


def load_classifier(directory: str | os.PathLike, device: str | torch.device = "cpu") -> Classifier:
    """Rebuild the classifier a folder holds, float32, in eval mode, strict about every tensor."""
    d = Path(directory)
    return load_network(lambda config: Classifier(ClassifierConfig.from_dict(config)), d / CLASSIFIER_WEIGHTS_NAME,
                        d / CLASSIFIER_CONFIG_NAME, f"train one with `python -m model classifier --out {d}`").to(device)
