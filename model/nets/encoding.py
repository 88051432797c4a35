"""A whole set of images through the encoder, in batches: the posterior means (and log-variances) that
the atlas, the attribute directions, the disentanglement scores and the lab's measures all start from."""
from __future__ import annotations

import numpy as np
import torch

from .vae import ConvVAE


@torch.inference_mode()
def encode_all(vae: ConvVAE, images: np.ndarray, batch: int = 1000) -> tuple[np.ndarray, np.ndarray | None]:
    """uint8 (N, C, H, W) -> posterior means and log-variances (N, D), float32 (None: no variance)."""
    mus, lvs = [], []
    for i in range(0, len(images), batch):
        x = torch.from_numpy(images[i:i + batch]).float().div_(255)
        mu, lv = vae.encode(x)
        mus.append(mu.numpy())
        lvs.append(None if lv is None else lv.numpy())
    if lvs[0] is None:                                   # an autoencoder or VQ-VAE: no variance
        return np.concatenate(mus).astype(np.float32), None
    return np.concatenate(mus).astype(np.float32), np.concatenate(lvs).astype(np.float32)
