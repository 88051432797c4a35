"""VAE Latent Explorer's model package: the ConvVAE and everything that is not UI.

    from model import load_vae
    vae = load_vae("weights/fashion-mnist")
    mu, logvar = vae.encode(x); z = vae.reparameterize(mu, logvar); x_hat = vae.decode(z)
"""
from .nets.config import VAEConfig
from .nets.vae import ConvVAE
from .nets.weights import WeightsError, load_vae, save_pretrained

__all__ = ["ConvVAE", "VAEConfig", "WeightsError", "load_vae", "save_pretrained"]
