"""The VAE (Kingma & Welling 2013): the encoder gives a diagonal Gaussian q(z|x), trained with the KL term
against the prior N(0, I), so its ELBO bounds log p(x)."""
from __future__ import annotations

from . import ModelKind


class GaussianKind(ModelKind):
    def posterior(self, vae, h):
        """h (B, 2D) -> N(mu, diag(exp(logvar))): the first half is mu, the second logvar."""
        from ..posterior import DiagonalGaussian
        return DiagonalGaussian(*h.chunk(2, dim=1))


KIND = GaussianKind(
    name="vae", label="VAE", order=20, has_sigma=True, has_kl=True, has_likelihood=True,
    about="β = {c.beta}",
    compare_note=("The VAE's samples are clothes, but blurry", ": the KL term packed its clouds around N(0, I); "
                  "the decoder predicts each pixel's mean, an average over the images a cloud could be."),
    marker=("circle", "#2563eb"),
)
