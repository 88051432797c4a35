"""The VAE objective (model/nets/losses.py) and the network's contract (model/nets/vae.py).

Small random configurations only: every test here runs in well under a second.
"""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from model.nets.config import VAEConfig
from model.nets.losses import elbo_terms, iwae_bound, reconstruction_nll
from model.nets.posterior import LOGVAR_MAX, LOGVAR_MIN, DiagonalGaussian, active_units, standard_normal_log_prob
from model.nets.vae import ConvVAE


def kl_per_dim(mu, logvar):
    return DiagonalGaussian(mu, logvar).kl_per_dim()


def kl_divergence(mu, logvar):
    return DiagonalGaussian(mu, logvar).kl()

TINY = dict(widths=(8, 16), hidden=32, res_blocks=1)


def tiny_vae(seed=0, **kw) -> ConvVAE:
    torch.manual_seed(seed)
    return ConvVAE(VAEConfig(**{**TINY, **kw})).eval()


def blobs(n=32, size=28, channels=1, seed=0) -> torch.Tensor:
    """Images in [0, 1] with some structure (so the posterior depends on x)."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    c = torch.rand(n, 2, generator=g) - 0.5
    r = 0.2 + 0.4 * torch.rand(n, generator=g)
    d = ((xx - c[:, :1, None]) ** 2 + (yy - c[:, 1:, None]) ** 2).sqrt()
    img = torch.sigmoid((r[:, None, None] - d) * 20)                       # (N, H, W)
    return img[:, None].expand(n, channels, size, size).contiguous()


# ---------------------------------------------------------------- KL
def test_closed_form_kl_matches_monte_carlo():
    g = torch.Generator().manual_seed(1)
    mu = torch.tensor([0.0, 1.5, -2.0, 0.3])
    logvar = torch.tensor([0.0, -1.0, 0.7, -3.0])
    n = 400_000
    eps = torch.randn(n, 4, generator=g, dtype=torch.float64)
    sigma = torch.exp(0.5 * logvar.double())
    z = mu.double() + sigma * eps
    log_q = -0.5 * (math.log(2 * math.pi) + logvar.double() + eps ** 2)
    log_p = -0.5 * (math.log(2 * math.pi) + z ** 2)
    samples = log_q - log_p                                               # (n, 4)
    mc, se = samples.mean(0), samples.std(0) / math.sqrt(n)
    closed = kl_per_dim(mu, logvar).double()
    assert torch.all((closed - mc).abs() < 5 * se + 1e-6), (closed, mc, se)
    # and the exact KL torch.distributions knows
    exact = torch.distributions.kl_divergence(torch.distributions.Normal(mu, sigma.float()),
                                              torch.distributions.Normal(0.0, 1.0))
    assert torch.allclose(kl_per_dim(mu, logvar), exact, atol=1e-5)


def test_kl_is_zero_at_the_prior_positive_elsewhere_and_summed_per_image():
    mu, logvar = torch.zeros(3, 5), torch.zeros(3, 5)
    assert torch.equal(kl_divergence(mu, logvar), torch.zeros(3))
    mu2 = torch.randn(3, 5, generator=torch.Generator().manual_seed(0))
    lv2 = torch.randn(3, 5, generator=torch.Generator().manual_seed(1))
    per_dim = kl_per_dim(mu2, lv2)
    assert per_dim.shape == (3, 5) and torch.all(per_dim > 0)
    assert torch.allclose(kl_divergence(mu2, lv2), per_dim.sum(1))


def test_log_probs_match_torch_distributions():
    g = torch.Generator().manual_seed(3)
    mu, logvar, z = (torch.randn(5, 4, generator=g) for _ in range(3))
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    assert torch.allclose(DiagonalGaussian(mu, logvar).log_prob(z), q.log_prob(z).sum(-1), atol=1e-5)
    prior = torch.distributions.Normal(0.0, 1.0)
    assert torch.allclose(standard_normal_log_prob(z), prior.log_prob(z).sum(-1), atol=1e-5)


def test_posterior_samples_have_its_mean_and_sigma():
    mu, logvar = torch.tensor([[1.5, -2.0]]), torch.tensor([[0.0, math.log(0.25)]])
    q = DiagonalGaussian(mu, logvar)
    z = q.sample(torch.Generator().manual_seed(0), n=20_000)                # (n, 1, 2)
    assert z.shape == (20_000, 1, 2) and torch.equal(q.mode(), mu)
    assert torch.allclose(z.mean(0), mu, atol=0.03) and torch.allclose(z.std(0), q.std, atol=0.03)
    eps = torch.ones(1, 2)
    assert torch.allclose(q.reparameterize(eps), torch.tensor([[2.5, -1.5]]))


def test_active_units_are_the_dimensions_whose_mean_varies_across_the_data():
    g = np.random.default_rng(0)
    means = np.stack([g.normal(0, 1, 500), np.full(500, 0.7), g.normal(0, 0.05, 500)], 1)
    assert active_units(means).tolist() == [True, False, False]          # Var 1, 0, 0.0025 against 0.01


# ---------------------------------------------------------------- reparameterization
def test_reparameterize_is_mu_plus_sigma_eps_and_gradients_reach_mu_and_logvar():
    mu = torch.tensor([[0.5, -1.0, 2.0]], requires_grad=True)
    logvar = torch.tensor([[0.0, -2.0, 1.0]], requires_grad=True)
    z = ConvVAE.reparameterize(mu, logvar, torch.Generator().manual_seed(3))
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(z, mu + torch.exp(0.5 * logvar) * eps)
    z.sum().backward()
    assert torch.allclose(mu.grad, torch.ones_like(mu))                          # dz/dmu = 1
    assert torch.allclose(logvar.grad, 0.5 * torch.exp(0.5 * logvar.detach()) * eps)  # dz/dlogvar


def test_reconstruction_gradient_flows_through_z_into_the_encoder():
    vae = tiny_vae().train()
    x = blobs(8)
    t = elbo_terms(vae, x, beta=0.0, generator=torch.Generator().manual_seed(0))   # recon only
    t["loss"].backward()
    g = vae.encoder.out.weight.grad                       # rows 0..D-1 -> mu, D..2D-1 -> logvar
    d = vae.config.latent_dim
    assert g is not None and torch.isfinite(g).all()
    assert g[:d].abs().sum() > 0, "no gradient reached mu"
    assert g[d:].abs().sum() > 0, "no gradient reached logvar"


# ---------------------------------------------------------------- reconstruction terms
def test_bce_is_the_bernoulli_negative_log_likelihood_summed_over_pixels():
    g = torch.Generator().manual_seed(0)
    logits, x = torch.randn(4, 1, 6, 6, generator=g) * 3, torch.rand(4, 1, 6, 6, generator=g)
    p = torch.sigmoid(logits.double())
    manual = -(x * p.log() + (1 - x) * (1 - p).log()).flatten(1).sum(1)
    assert torch.allclose(reconstruction_nll(logits, x, "bce").double(), manual, rtol=1e-5)


def test_mse_is_a_gaussian_negative_log_likelihood_with_fixed_sigma():
    g = torch.Generator().manual_seed(0)
    logits, x = torch.randn(4, 3, 5, 5, generator=g), torch.rand(4, 3, 5, 5, generator=g)
    for sigma in (0.1, 0.5):
        ref = -torch.distributions.Normal(torch.sigmoid(logits), sigma).log_prob(x).flatten(1).sum(1)
        assert torch.allclose(reconstruction_nll(logits, x, "mse", sigma), ref, rtol=1e-5)
    # a perfect reconstruction scores better than a poor one
    perfect = torch.logit(x.clamp(1e-4, 1 - 1e-4))
    assert (reconstruction_nll(perfect, x, "mse") < reconstruction_nll(logits, x, "mse")).all()
    with pytest.raises(ValueError, match="unknown reconstruction loss"):
        reconstruction_nll(logits, x, "l1")


def test_elbo_terms_beta_weights_only_the_kl_in_the_training_loss():
    vae = tiny_vae(latent_dim=6)
    x = blobs(16)
    out = {b: elbo_terms(vae, x, beta=b, generator=torch.Generator().manual_seed(5)) for b in (0.0, 1.0, 4.0)}
    for b, t in out.items():
        assert torch.allclose(t["loss"], t["recon"] + b * t["kl"])
        assert torch.allclose(t["neg_elbo"], t["recon"] + t["kl"])          # the true bound: beta = 1
        assert torch.allclose(t["neg_elbo"], out[1.0]["neg_elbo"])
    assert out[4.0]["loss"] > out[1.0]["loss"] > out[0.0]["loss"]
    # beta=None takes the config's beta
    vae_b = tiny_vae(latent_dim=6, beta=4.0)
    t = elbo_terms(vae_b, x, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(t["loss"], out[4.0]["loss"])


def test_mse_model_trains_with_the_gaussian_term():
    vae = tiny_vae(recon="mse", mse_sigma=0.2)
    x = blobs(8)
    t = elbo_terms(vae, x, generator=torch.Generator().manual_seed(0))
    logits, _ = vae(x, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(t["recon"], reconstruction_nll(logits, x, "mse", 0.2).mean())
    assert torch.allclose(t["recon"], F.mse_loss(torch.sigmoid(logits), x, reduction="sum") / 8 / (2 * 0.04)
                          + 28 * 28 * (math.log(0.2) + 0.5 * math.log(2 * math.pi)), rtol=1e-4)


# ---------------------------------------------------------------- importance-weighted bound
@pytest.fixture(scope="module")
def informative_vae():
    """A random VAE whose posterior is narrow and x-dependent, so q(z|x) differs from p(z|x)
    and the importance-weighted bound has room to tighten."""
    vae = tiny_vae(latent_dim=8, seed=2)
    with torch.no_grad():
        d = vae.config.latent_dim
        vae.encoder.out.weight[:d] *= 20          # means spread out
        vae.encoder.out.bias[d:] = -3.0           # sigma ~ 0.2
    return vae


def test_iwae_bound_is_tighter_than_the_elbo_and_grows_with_k(informative_vae):
    vae, x = informative_vae, blobs(32, seed=1)
    with torch.no_grad():
        # the ELBO, averaged over many eps draws (closed-form KL): a precise value
        reps = [elbo_terms(vae, x, generator=torch.Generator().manual_seed(s))["neg_elbo"] for s in range(20)]
    neg_elbo = torch.stack(reps).mean().item()
    bounds = {k: iwae_bound(vae, x, k=k, generator=torch.Generator().manual_seed(11)).mean().item()
              for k in (1, 10, 100, 500)}
    # k = 1 is the ELBO itself (up to sampling noise)
    assert abs(-bounds[1] - neg_elbo) < 0.02 * abs(neg_elbo) + 2.0, (bounds, neg_elbo)
    # log-likelihood lower bounds: IWAE >= ELBO, i.e. iwae_nll <= neg_elbo, and rising with k
    assert -bounds[100] < neg_elbo
    assert bounds[1] < bounds[10] < bounds[100] < bounds[500], bounds
    assert bounds[500] - bounds[1] > 1.0, bounds      # a real gain, not noise


def test_iwae_chunking_does_not_change_the_result(informative_vae):
    x = blobs(5, seed=2)
    a = iwae_bound(informative_vae, x, k=30, generator=torch.Generator().manual_seed(0), chunk=100)
    b = iwae_bound(informative_vae, x, k=30, generator=torch.Generator().manual_seed(0), chunk=30)
    c = iwae_bound(informative_vae, x, k=30, generator=torch.Generator().manual_seed(0), chunk=7)
    assert a.shape == (5,)
    assert torch.allclose(a, b, atol=1e-4)
    assert torch.isfinite(c).all()


# ---------------------------------------------------------------- the network
@pytest.mark.parametrize("cfg, shape", [
    (dict(), (1, 28, 28)),                                                   # the default: 28x28 grey
    (dict(image_size=64, channels=3, widths=(8, 16, 16, 32), latent_dim=32), (3, 64, 64)),
    (dict(image_size=32, channels=3, widths=(8, 16, 32), res_blocks=0, latent_dim=2), (3, 32, 32)),
])
def test_shapes_and_decode_range(cfg, shape):
    torch.manual_seed(0)
    full = {**TINY, **cfg} if cfg else {}
    vae = ConvVAE(VAEConfig(**full)).eval()
    d = vae.config.latent_dim
    x = torch.rand(3, *shape)
    with torch.no_grad():
        mu, logvar = vae.encode(x)
        assert mu.shape == logvar.shape == (3, d)
        z = vae.reparameterize(mu, logvar)
        assert z.shape == (3, d)
        img = vae.decode(z)
        assert img.shape == (3, *shape)
        assert img.min() >= 0 and img.max() <= 1
        wild = vae.decode(torch.tensor([[1e4] * d, [-1e4] * d]))             # extreme z stays in range
        assert torch.isfinite(wild).all() and wild.min() >= 0 and wild.max() <= 1
        logits, q = vae(x)
        assert logits.shape == (3, *shape) and torch.equal(q.mu, mu)


def test_logvar_is_clamped():
    vae = tiny_vae(latent_dim=4)
    x = blobs(4)
    with torch.no_grad():
        vae.encoder.out.bias[4:] = 1e6
        assert vae.encode(x)[1].max().item() == LOGVAR_MAX
        vae.encoder.out.bias[4:] = -1e6
        lv = vae.encode(x)[1]
    assert lv.min().item() == LOGVAR_MIN
    assert torch.isfinite(kl_divergence(torch.zeros_like(lv), lv)).all()
    assert (LOGVAR_MIN, LOGVAR_MAX) == (-30.0, 20.0)


def test_config_validates_and_round_trips():
    cfg = VAEConfig(image_size=64, channels=3, widths=[8, 16], latent_dim=5, recon="mse",
                    class_names=["a", "b"])
    assert VAEConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.bottleneck == 16
    for bad in (dict(image_size=30, widths=(8, 16)), dict(channels=2), dict(latent_dim=0),
                dict(recon="l2"), dict(background="grey"), dict(beta=-1)):
        with pytest.raises(ValueError):
            VAEConfig(**bad)
    with pytest.raises(ValueError, match="unknown config keys"):
        VAEConfig.from_dict({**cfg.to_dict(), "pickle": 1})
