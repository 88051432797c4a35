"""VAEConfig: the hyper-parameters that travel inside every weights folder (config.json)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .kinds import kind_of

RECON_LOSSES = ("bce", "mse")


def from_known_keys(cls, d: dict, what: str = "config"):
    """cls(**d) for a config dataclass, refusing keys it does not know (a file from another version)."""
    unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"unknown {what} keys: {sorted(unknown)}")
    return cls(**d)


@dataclass(frozen=True)
class VAEConfig:
    """Everything needed to rebuild a ConvVAE; typed fields become config.json.

    image_size must be divisible by 2 ** len(widths): each width is one stride-2 stage.
    """

    image_size: int = 28
    channels: int = 1
    latent_dim: int = 16
    widths: tuple[int, ...] = (32, 64)
    res_blocks: int = 1          # residual blocks at the bottleneck, in encoder and decoder
    hidden: int = 512            # width of the fully connected layer before mu/logvar
    recon: str = "bce"           # "bce" (Bernoulli-style, pixels in [0,1]) or "mse" (Gaussian)
    mse_sigma: float = 0.1       # fixed decoder sigma for the Gaussian ("mse") likelihood
    beta: float = 1.0            # weight of the KL term (beta-VAE); 1.0 is the true ELBO
    background: str = "black"    # the data set's background; uploads are composited onto it
    kind: str = "vae"            # a model kind (model/nets/kinds/): "vae", "ae", "vq" (VQ-VAE), "gan"
    codebook_size: int = 0       # "vq": K learned code vectors, shared by every group
    code_dim: int = 4            # "vq": numbers per code; z holds one code per bottleneck position
    commitment: float = 0.25     # "vq": weight of the commitment loss (van den Oord et al. 2017, eq. 3)
    class_names: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        if self.recon not in RECON_LOSSES:
            raise ValueError(f"recon must be one of {RECON_LOSSES}, got {self.recon!r}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.latent_dim < 1 or self.latent_dim > 512:
            raise ValueError(f"latent_dim must be in 1..512, got {self.latent_dim}")
        if not self.widths or any(w < 1 for w in self.widths):
            raise ValueError(f"widths must be positive, got {self.widths}")
        if self.image_size % (2 ** len(self.widths)) != 0:
            raise ValueError(
                f"image_size {self.image_size} is not divisible by 2**len(widths)={2 ** len(self.widths)}"
            )
        if self.background not in ("black", "white"):
            raise ValueError(f"background must be 'black' or 'white', got {self.background!r}")
        kind_of(self.kind).validate(self)          # an unknown kind, or the kind's own checks
        if self.beta < 0 or self.mse_sigma <= 0:
            raise ValueError("beta must be >= 0 and mse_sigma > 0")

    @property
    def groups(self) -> int:
        """"vq": how many codes make one z: one per position of the bottleneck grid."""
        return self.latent_dim // self.code_dim

    @property
    def bottleneck(self) -> int:
        """Spatial size after the encoder's stride-2 stages (7 for 28x28 with two stages)."""
        return self.image_size // (2 ** len(self.widths))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["widths"] = list(self.widths)
        d["class_names"] = list(self.class_names)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "VAEConfig":
        return from_known_keys(cls, d)
