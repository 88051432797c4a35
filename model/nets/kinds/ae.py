"""The plain autoencoder: z = encoder(x), one point with no σ and no KL term, so no ELBO; nothing holds its
codes near N(0, I), which the Compare tab's samples show."""
from __future__ import annotations

from . import ModelKind

KIND = ModelKind(
    name="ae", label="plain autoencoder", order=10, prior_scaled=False,
    about="a plain autoencoder: z = encoder(x), no σ, no KL term, no prior",
    compare_note=("The autoencoder's samples are not clothes.", " Nothing made its codes look like N(0, I): they "
                  "sit wherever training left them (see them drift outward in *watch it organise*), so most of "
                  "N(0, I) falls in gaps its decoder never saw. Its clouds are bare points."),
    marker=("triangle-up", "#dc2626"),
)
