"""The VQ-VAE's learned prior (a gated PixelCNN over its code grid) and the GAN whose generator is our
decoder: causality, sampling, a training step, and checkpoints that resume to identical weights. Tiny
configurations on scikit-learn's digits, so the whole file runs in seconds."""
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from model.nets.config import VAEConfig
from model.nets.gan import Discriminator, GANConfig, Generator, critic_loss, generator_loss, gradient_penalty
from model.nets.prior import PixelCNNPrior, PriorConfig
from model.nets.vae import ConvVAE
from model.store.companions import load_prior, save_prior
from model.store.weights import save_pretrained
from model.training import gan as gan_training
from model.training import prior as prior_training
from model.training import run as training_run

ASSETS = Path(__file__).resolve().parents[1] / "assets"
TINY_PRIOR = PriorConfig(grid=5, codebook_size=7, channels=8, layers=3, kernel=3, first_kernel=5, embed_dim=4)


def tiny_prior(seed: int = 0) -> PixelCNNPrior:
    torch.manual_seed(seed)
    prior = PixelCNNPrior(TINY_PRIOR)
    for layer in prior.layers:                          # the per-position biases start at 0: make them matter
        torch.nn.init.normal_(layer.where, std=0.5)
    return prior


def test_pixelcnn_logits_at_a_position_depend_only_on_earlier_positions():
    prior, g = tiny_prior(), TINY_PRIOR.grid
    idx = torch.randint(TINY_PRIOR.codebook_size, (3, g * g), generator=torch.Generator().manual_seed(1))
    base = prior(idx)                                                   # (B, K, g, g)
    for pos in range(g * g):
        changed = idx.clone()
        changed[:, pos] = (changed[:, pos] + 1) % TINY_PRIOR.codebook_size
        moved = (prior(changed) - base).abs().amax(dim=(0, 1)).flatten() > 1e-6    # (g*g,) per position
        assert not moved[:pos + 1].any(), f"changing position {pos} moved the logits at {moved.nonzero().tolist()}"
        if pos + 1 < g * g:
            assert moved[pos + 1], f"position {pos + 1} does not see position {pos} just before it"


def test_pixelcnn_sees_the_whole_row_above_no_blind_spot():
    """The gated PixelCNN's two stacks leave no blind spot: the position below-right of a changed one sees it."""
    prior, g = tiny_prior(), TINY_PRIOR.grid
    idx = torch.zeros(1, g * g, dtype=torch.long)
    changed = idx.clone()
    changed[0, 0 * g + 3] = 5                                           # row 0, column 3
    diff = (prior(changed) - prior(idx)).abs().amax(dim=1)[0]          # (g, g)
    assert diff[1, 1] > 1e-6 and diff[1, 4] > 1e-6                      # below-left and below-right


def test_pixelcnn_log_prob_and_samples():
    prior = tiny_prior()
    n, positions = 6, TINY_PRIOR.positions
    idx = prior.sample(n, torch.Generator().manual_seed(0))
    assert idx.shape == (n, positions) and idx.dtype == torch.long
    assert 0 <= idx.min() and idx.max() < TINY_PRIOR.codebook_size
    assert torch.equal(idx, prior.sample(n, torch.Generator().manual_seed(0)))        # a seed gives the same draws
    greedy = prior.sample(2, temperature=0)
    assert torch.equal(greedy[0], greedy[1])
    lp = prior.log_prob(idx)
    assert lp.shape == (n,) and (lp < 0).all()
    # log p is a distribution over grids: with 2 positions and 3 tokens the 9 probabilities sum to 1
    small = PixelCNNPrior(PriorConfig(grid=1, codebook_size=3, channels=4, layers=1, embed_dim=2, first_kernel=3))
    assert small.log_prob(torch.arange(3).view(3, 1)).exp().sum().item() == pytest.approx(1.0, abs=1e-5)
    assert TINY_PRIOR.uniform_nll() == pytest.approx(25 * torch.log(torch.tensor(7.0)).item())
    assert PriorConfig().uniform_nll() == pytest.approx(271.7, abs=0.05)              # 49 log 256
    with pytest.raises(ValueError):
        prior.log_prob(torch.full((1, positions), TINY_PRIOR.codebook_size))


def test_prior_files_round_trip(tmp_path):
    prior = tiny_prior()
    save_prior(prior, tmp_path)
    again = load_prior(tmp_path)
    idx = prior.sample(3, torch.Generator().manual_seed(2))
    assert again.config == prior.config
    assert torch.equal(again.log_prob(idx), prior.eval().log_prob(idx))


GEN = VAEConfig(latent_dim=4, widths=(4, 8), res_blocks=1, hidden=16)
TINY_GAN_ARGS = ["--dataset", "digits", "--threads", "1", "--latent-dim", "4", "--widths", "4,8", "--hidden", "16",
                 "--disc-widths", "4,8", "--batch-size", "32", "--log-every", "5", "--checkpoint-every", "1e9"]


@pytest.mark.parametrize("loss", ["ns", "wgan-gp"])
def test_a_gan_step_changes_both_networks(loss):
    cfg = GANConfig(generator=GEN, disc_widths=(4, 8), spectral_norm=loss == "ns", loss=loss)
    torch.manual_seed(0)
    gen, disc = Generator(GEN), Discriminator(cfg)
    before = [{k: v.clone() for k, v in m.state_dict().items()} for m in (gen, disc)]
    opt_g, opt_d = (torch.optim.Adam(m.parameters(), 1e-3, betas=(0.0, 0.9)) for m in (gen, disc))
    real = torch.rand(8, 1, 28, 28)
    fake = gen(torch.randn(8, 4))
    assert fake.shape == (8, 1, 28, 28) and 0 <= fake.min() and fake.max() <= 1
    terms = critic_loss(cfg, disc, real, fake.detach())
    opt_d.zero_grad()
    terms["loss"].backward()
    opt_d.step()
    g_loss = generator_loss(cfg, disc, gen(torch.randn(8, 4)))
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    for m, old in zip((gen, disc), before, strict=True):
        assert any(not torch.equal(v, old[k]) for k, v in m.state_dict().items()), type(m).__name__
    assert torch.isfinite(terms["loss"]) and torch.isfinite(g_loss)


def test_the_gradient_penalty_is_zero_for_a_1_lipschitz_linear_critic():
    cfg = GANConfig(generator=GEN, disc_widths=(4,))
    disc = Discriminator(cfg)
    with torch.no_grad():                       # D(x) = w . (2x - 1) with |2w| = 1: gradient norm exactly 1
        disc.conv[0].weight.zero_()
        disc.conv[0].weight[0, 0, 1, 1] = 0.5
        disc.conv[0].bias.fill_(10.0)            # keeps every LeakyReLU in its linear part
        disc.out.weight.zero_()
        disc.out.weight[0, 0] = 1.0
    gp = gradient_penalty(disc, torch.rand(4, 1, 28, 28), torch.rand(4, 1, 28, 28))
    assert gp.item() == pytest.approx(0.0, abs=1e-8)


def test_the_generator_is_our_decoder():
    """Its weights load, key for key, into a ConvVAE's decoder built from the same config, which then decodes
    the same images: what a later weights folder ships."""
    gen = Generator(GEN)
    vae = ConvVAE(GEN)
    vae.load_state_dict(vae.state_dict() | gen.state_dict(), strict=True)
    z = torch.randn(3, 4)
    assert torch.equal(vae.decode(z), gen(z))


def stop_after(monkeypatch, run_holder: dict, n: int) -> None:
    """Make the Budget say 'spent' once the run's step counter reaches n (a deterministic mid-run stop)."""
    monkeypatch.setattr(training_run.Budget, "spent", lambda self: "test stop" if run_holder["run"].step >= n else None)


def checkpoints_equal(a, b) -> None:
    ta, tb = load_file(str(a)), load_file(str(b))
    assert ta.keys() == tb.keys()
    for k in ta:
        assert torch.equal(ta[k], tb[k]), k


@pytest.mark.slow                        # trains a tiny GAN three times
def test_gan_checkpoints_resume_to_identical_weights(tmp_path, monkeypatch):
    whole = gan_training.parse_args(TINY_GAN_ARGS + ["--out", str(tmp_path / "a"), "--epochs", "0.5"])
    gan_training.train(whole)
    holder = {}
    real_setup = gan_training.setup
    monkeypatch.setattr(gan_training, "setup", lambda args: holder.setdefault("run", real_setup(args)))
    stop_after(monkeypatch, holder, 9)
    gan_training.train(gan_training.parse_args(TINY_GAN_ARGS + ["--out", str(tmp_path / "b"), "--epochs", "0.5"]))
    assert holder["run"].step == 9
    monkeypatch.undo()
    gan_training.train(gan_training.parse_args(TINY_GAN_ARGS + ["--out", str(tmp_path / "b"), "--epochs", "0.5",
                                                                "--resume"]))
    checkpoints_equal(tmp_path / "a" / "checkpoint.safetensors", tmp_path / "b" / "checkpoint.safetensors")
    for name in ("samples.png", "gan.json", "generator.safetensors"):
        assert (tmp_path / "b" / name).is_file()
    assert len(list((tmp_path / "b" / "samples").glob("step-*.png"))) >= 3        # step 0, the stop, the end
    with pytest.raises(prior_training.TrainingError, match="exists"):              # no silent overwrite
        gan_training.setup(gan_training.parse_args(TINY_GAN_ARGS + ["--out", str(tmp_path / "b")]))


@pytest.mark.slow                        # trains a tiny GAN for half an epoch
def test_install_records_what_the_run_recorded_its_data_time_speed_and_device(tmp_path, monkeypatch):
    from model.training import evaluate
    from model.training.checkpoints import read_checkpoint

    run = tmp_path / "run"
    gan_training.train(gan_training.parse_args(TINY_GAN_ARGS + ["--out", str(run), "--epochs", "0.5"]))
    mapped = {}
    monkeypatch.setattr(evaluate, "build_generator_atlas", lambda vae, ds, out, owner: mapped.update(ds=ds))
    metrics = gan_training.install(run, tmp_path / "weights" / "gan", "digits")
    _, recorded = read_checkpoint(run / "checkpoint.safetensors")
    assert metrics["dataset"] == "digits" == recorded["args"]["dataset"]           # not a data set it assumed
    assert metrics["test_images"] == len(mapped["ds"]) == 360                        # digits' test split
    gan = metrics["gan"]
    assert gan["device"] == recorded["device"] == f"cpu (1 thread, {os.cpu_count()} cores)"    # --threads 1
    assert gan["minutes"] == round(recorded["seconds"] / 60, 1)
    speeds = [row["images_per_second"] for row in recorded["history"]]
    assert speeds and gan["images_per_second"] == round(float(np.median(speeds)), 1)


@pytest.fixture
def tiny_vq(tmp_path):
    cfg = VAEConfig(latent_dim=2 * 49, widths=(4, 8), res_blocks=0, hidden=8, kind="vq", codebook_size=8, code_dim=2)
    torch.manual_seed(0)
    vae = ConvVAE(cfg)
    save_pretrained(vae, tmp_path / "vq")
    return tmp_path / "vq"


@pytest.mark.slow                        # trains a tiny prior three times
def test_prior_training_resumes_mid_epoch_to_identical_weights(tmp_path, tiny_vq, monkeypatch):
    common = [str(tiny_vq), "--dataset", "digits", "--threads", "1", "--channels", "8", "--layers", "2",
              "--embed-dim", "4", "--batch-size", "100", "--epochs", "2", "--checkpoint-every", "1e9"]
    out = prior_training.train(prior_training.parse_args(common + ["--out", str(tmp_path / "a")]))
    steps = out["step"]
    assert len(out["history"]) == 2 and out["history"][-1]["test_nll"] > 0
    holder = {}
    real_setup = prior_training.setup
    monkeypatch.setattr(prior_training, "setup", lambda args: holder.setdefault("run", real_setup(args)))
    stop_after(monkeypatch, holder, steps // 2 + 3)                       # mid-way through epoch 2
    prior_training.train(prior_training.parse_args(common + ["--out", str(tmp_path / "b")]))
    monkeypatch.undo()
    prior_training.train(prior_training.parse_args(common + ["--out", str(tmp_path / "b"), "--resume"]))
    checkpoints_equal(tmp_path / "a" / "checkpoint.safetensors", tmp_path / "b" / "checkpoint.safetensors")
    prior = load_prior(tmp_path / "b")
    assert prior.config.grid == 7 and prior.config.codebook_size == 8
    for name in ("codes-train.npy", "codes-test.npy", "samples.png", "prior_metrics.json"):
        assert (tmp_path / "b" / name).is_file()


def test_the_prior_needs_a_vq_vae(tmp_path):
    save_pretrained(ConvVAE(GEN), tmp_path / "vae")
    assert prior_training.main([str(tmp_path / "vae"), "--out", str(tmp_path / "p"), "--dataset", "digits"]) == 2


# ---------------------------------------------------------------- the shipped prior and GAN
def test_the_shipped_prior_samples_like_the_data_where_uniform_codes_do_not(registry):
    """Prior samples of fashion-mnist-vq lie as near the test images by shape as the data does (<= 1.5x the
    test set's own nearest-neighbour distance); uniformly random codes, the model without its prior, do not."""
    from model.analysis.sample_quality import nearest_distances
    from model.nets.walk import prior_draws

    m = registry.get("fashion-mnist-vq")
    assert m.vae.code_prior is not None
    test = m.atlas["thumbnails"]
    own = np.median(nearest_distances(test[:200], test, exclude_self=True, shape=True))
    with torch.inference_mode():
        prior = m.vae.decode(prior_draws(m.vae, 48, 1.0, seed=0)).numpy()
        uniform = m.vae.decode(m.vae.quantizer.lookup(torch.randint(256, (48, 49), generator=torch.Generator()
                                                                     .manual_seed(0)))).numpy()
    assert np.median(nearest_distances(prior, test, shape=True)) <= 1.5 * own
    assert np.median(nearest_distances(uniform, test, shape=True)) > 1.5 * own
    assert m.metrics["prior"]["test_nll"] < m.metrics["prior"]["uniform_nll"]


def test_the_prior_sampler_crops_rows_without_changing_a_logit():
    """Sampling row r runs only rows <= r: the logits there equal the full grid's (causality)."""
    prior = tiny_prior().eval()
    idx = prior.sample(4, torch.Generator().manual_seed(1))
    full = prior(idx)
    g = TINY_PRIOR.grid
    for r in range(g):
        assert torch.allclose(prior._logits(idx[:, :(r + 1) * g].view(4, r + 1, g)), full[:, :, :r + 1], atol=1e-5)


def test_the_shipped_gan_has_no_encoder_and_says_so(registry):
    from model.nets.limits import ExplorerError
    from model.serving import requests as ex
    from model.store.onnx import export_encoder

    m = registry.get("fashion-mnist-gan")
    assert m.kind == "gan" and m.vae.encoder is None and "measures" in m.metrics
    with pytest.raises(ExplorerError, match="no encoder"):
        ex.encode(m, str(ASSETS / "examples" / "drawn-bag.png"))
    with pytest.raises(ExplorerError, match="no encoder"):
        export_encoder(m.vae, "/nonexistent/encoder.onnx")
    images, z = ex.sample(m, 4, 1.0, 0)                      # it samples, slides and walks like any decoder
    assert len(images) == 4 and z.shape == (4, 16)
    assert ex.hover_card(m, 0)["original"] is None           # its map's points are draws, not test images


def test_compare_takes_the_gan_and_the_prior_sampled_vq_vae(registry):
    from model.serving import side_by_side as cmp
    from ui.compare import ComparePanel

    report = ComparePanel(registry).report(str(ASSETS / "examples" / "drawn-bag.png"),
                                           ["fashion-mnist", "fashion-mnist-vq", "fashion-mnist-gan"], 3)
    gan, vq = report["models"]["fashion-mnist-gan"], report["models"]["fashion-mnist-vq"]
    assert gan["reconstruction"] is None and gan["recon_nats"] is None and gan["samples"].startswith("data:image/png")
    assert vq["reconstruction"].startswith("data:image/png") and vq["sample_shape_distance"] < 0.5
    with pytest.raises(ValueError, match="encoder"):
        cmp.reconstructions([registry.get("fashion-mnist-gan")] * 2, str(ASSETS / "examples" / "drawn-bag.png"))


def test_the_stored_sample_quality_puts_the_data_first_and_names_shipped_models(registry):
    """weights/sample-quality.json (bench/quality.py): the training set against the test set (the floor) has a
    lower FID than every model's samples, noise the highest; every model row is a shipped model; the Compare tab's
    table and chart show each row."""
    from ui import text
    from ui.charts import quality_figure

    table = registry.sample_quality()
    rows = {(r["model"], r.get("temperature")): r for r in table["rows"]}
    floor, noise = rows[("training-set", None)]["fid"], rows[("noise", None)]["fid"]
    models = [r for r in table["rows"] if r.get("kind")]
    assert {"vae", "vq", "gan", "ae"} <= {r["kind"] for r in models}
    assert all(floor < r["fid"] < noise and r["model"] in registry for r in models)
    md, fig = text.quality_markdown(table), quality_figure(table)
    assert all(f"`{r['model']}`" in md for r in models) and len(fig.data) == len(table["rows"]) - 1


def test_a_gan_walks_between_its_own_draws_where_a_vae_walks_between_the_images(registry):
    """Interpolate (and Compare's walk row) for a model with no encoder: the ends are its first two draws for the
    seed, the same draws Sample shows, whatever images were given; a VAE's ends are the images' means."""
    from model.nets.walk import prior_draws
    from model.serving import requests as ex

    gan, vae = registry.get("fashion-mnist-gan"), registry.get("fashion-mnist")
    bag, shirt = (str(ASSETS / "examples" / f"drawn-{n}.png") for n in ("bag", "tshirt"))
    walk = ex.interpolate_images(gan, bag, shirt, 5, "linear", seed=4)
    draws = prior_draws(gan.vae, 2, 1.0, 4).numpy()
    assert walk["ends"] == "draws" and np.allclose(walk["z"][[0, -1]], draws, atol=1e-6) and len(walk["frames"]) == 5
    assert ex.interpolate_images(vae, bag, shirt, 5, "linear")["ends"] == "images"
