"""VAE Latent Explorer's model package: the ConvVAE and everything that is not UI, grouped by job. Each
sub-package imports only from those listed before it:

    nets/       the networks and their maths (config, the model kinds, VAE, posterior, losses, walks, priors)
    store/      files and formats (weights folders, companions, pictures, snapshots, ONNX, model zips)
    data/       data sets (Fashion-MNIST, digits, folders, emoji, faces) and checks of uploaded images
    analysis/   measures of trained models (sharpness, FID, typicality, class separation, attributes, MIG)
    training/   the runs on one base (VAE, GAN, prior, classifier), live jobs, checkpoints, evaluation, the lab
    serving/    the models a server offers, the requests it answers, the training service

`python -m model <command>` runs every command (cli.py lists them). The public API:

    from model import load_vae
    vae = load_vae("weights/fashion-mnist")
    mu, logvar = vae.encode(x); z = vae.reparameterize(mu, logvar); x_hat = vae.decode(z)
"""

from .nets.config import VAEConfig
from .nets.vae import ConvVAE
from .store.weights import WeightsError, load_vae, save_pretrained

__all__ = ["ConvVAE", "VAEConfig", "WeightsError", "load_vae", "save_pretrained"]
