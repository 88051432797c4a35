"""The lab: the autoencoder and VQ-VAE kinds, training snapshots, shared thumbnails,
the measures, the side-by-side requests, and the shipped lab models' claims."""
from __future__ import annotations

import json
import math
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from model import VAEConfig, load_vae
from model.analysis.sample_quality import gradient_magnitude, nearest_distances, sharpness_ratio
from model.nets.limits import ExplorerError
from model.nets.losses import elbo_terms
from model.nets.vae import ConvVAE
from model.nets.walk import prior_draws
from model.store.snapshots import load_snapshots, snapshot_steps
from model.store.weights import WeightsError, load_atlas, save_atlas

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "weights"
LAB_2D = ("fashion-mnist-2d-ae", "fashion-mnist-2d-vae", "fashion-mnist-2d-beta4")
LAB = LAB_2D + ("fashion-mnist-16d-ae", "fashion-mnist-16d-vae", "fashion-mnist-vq")


def tiny(kind: str, **kw) -> ConvVAE:
    """28x28 -> a 7x7 bottleneck: a VQ-VAE's z is 49 codes of 2 numbers, from a codebook of 8."""
    torch.manual_seed(0)
    extra = {"codebook_size": 8, "code_dim": 2, "latent_dim": 98} if kind == "vq" else {"latent_dim": 4}
    return ConvVAE(VAEConfig(widths=(8, 16), hidden=32, kind=kind, **extra, **kw))


# ---------------------------------------------------------------- the kinds
def test_an_autoencoder_has_no_variance_and_no_kl():
    vae, x = tiny("ae").eval(), torch.rand(3, 1, 28, 28)
    mu, logvar = vae.encode(x)
    assert logvar is None and mu.shape == (3, 4)
    assert torch.equal(vae.reparameterize(mu, logvar), mu)          # no noise to add
    t = elbo_terms(vae.train(), x)
    assert torch.allclose(t["loss"], t["recon"]) and t["kl"].item() == 0.0


def test_vq_snaps_each_group_to_a_codebook_vector_and_passes_gradients_straight_through():
    vae, x = tiny("vq").train(), torch.rand(5, 1, 28, 28)
    q = vae.posterior(x)
    groups = q.mu.detach().view(5, 49, 2)                            # one code per position of the 7x7 grid
    book = vae.quantizer.codebook.detach()
    dist = (groups.unsqueeze(2) - book).pow(2).sum(-1).min(-1).values
    assert dist.max().item() < 1e-10                                 # every group is a codebook entry
    assert torch.allclose(q.kl(), torch.full((5,), 49 * math.log(8)))  # groups * log K (van den Oord Sec. 3.1)
    t = elbo_terms(vae, x)
    t["loss"].backward()
    assert vae.encoder.out.weight.grad.abs().sum() > 0               # straight-through reached the encoder
    assert vae.quantizer.codebook.grad.abs().sum() > 0               # the codebook loss moves the codes


def test_vq_restarts_codes_no_group_picked():
    vae = tiny("vq").train()
    vae.posterior(torch.rand(16, 1, 28, 28))
    unused = (vae.quantizer.hits == 0).sum().item()
    before = vae.quantizer.codebook.detach().clone()
    assert vae.quantizer.restart_unused() == unused
    moved = (vae.quantizer.codebook.detach() != before).any(1).sum().item()
    assert moved == unused and vae.quantizer.hits.sum() == 0


def test_config_refuses_a_vq_that_cannot_be_cut_into_groups():
    with pytest.raises(ValueError, match="code_dim x bottleneck"):
        VAEConfig(kind="vq", latent_dim=16, code_dim=2, codebook_size=8)        # 7x7 positions need 98
    with pytest.raises(ValueError, match="kind"):
        VAEConfig(kind="flow")


def test_explorer_encode_says_none_for_what_an_autoencoder_lacks(tiny_kinds):
    from model.serving import requests as ex

    x = Image.fromarray(np.zeros((8, 8), dtype=np.uint8))
    ae = ex.encode(tiny_kinds.get("tiny-ae"), x)
    assert ae["sigma"] is None and ae["logvar"] is None and ae["kl"] is None and ae["elbo"] is None
    assert ae["z"] == ae["mu"] and ae["recon"] > 0
    vq = ex.encode(tiny_kinds.get("tiny-vq"), x)
    assert vq["kl"] == pytest.approx(49 * math.log(16), abs=1e-2) and vq["sigma"] is None
    with pytest.raises(ExplorerError, match="no sigma"):
        ex.reparameterize(tiny_kinds.get("tiny-ae"), ae["mu"], [0.0] * 4, 1)


def test_vq_samples_are_random_codes(tiny_kinds):

    m = tiny_kinds.get("tiny-vq")
    z = prior_draws(m.vae, 6, 1.0, seed=3)
    book = m.vae.quantizer.codebook.detach()
    assert ((z.view(6, 49, 1, 2) - book).pow(2).sum(-1).min(-1).values < 1e-12).all()
    assert not torch.equal(z, prior_draws(m.vae, 6, 1.0, seed=4))


# ---------------------------------------------------------------- snapshots
def test_snapshot_steps_start_untrained_and_end_trained():
    steps = snapshot_steps(4680, 40)
    assert steps[0] == 0 and steps[-1] == 4680 and steps == sorted(set(steps))
    assert 30 <= len(steps) <= 40 and steps[5] < 20                  # log-spaced: dense at the start


@pytest.mark.slow                        # trains two tiny models for two epochs each
def test_training_records_snapshots_that_resume_and_change(tmp_path):
    from model.training.loop import main

    def args(kind, out, epochs=2):          # --iwae-k 1: the final bound is not what this test checks
        return ["--dataset", "digits", "--kind", kind, "--latent-dim", "2", "--hidden", "32", "--widths", "8,16",
                "--epochs", str(epochs), "--snapshots", "6", "--out", str(out), "--map", "pca", "--lr", "1e-2",
                "--iwae-k", "1"]

    assert main(args("ae", tmp_path / "ae")) == 0
    s = load_snapshots(tmp_path / "ae")
    assert s["step"][0] == 0 and s["mu"].shape[0] == len(s["step"]) >= 5 and "logvar" not in s
    assert s["mu"].dtype == np.float16
    assert not np.allclose(s["mu"][0], s["mu"][-1], atol=1e-2)      # the space moved during training
    assert main(args("vae", tmp_path / "vae")) == 0
    assert load_snapshots(tmp_path / "vae")["logvar"].shape == s["mu"].shape


def test_snapshots_taken_before_an_interruption_are_kept_on_resume(tmp_path):
    from model.store.snapshots import SnapshotRecorder

    images = np.random.default_rng(0).integers(0, 255, (50, 1, 28, 28), dtype=np.uint8)
    rec = SnapshotRecorder(images, total_steps=100, k=5, steps_per_epoch=10)
    vae = tiny("vae")
    for step in range(0, 12):
        rec.maybe_record(vae, step)
    rec.save(tmp_path)
    again = SnapshotRecorder(images, total_steps=100, k=5, steps_per_epoch=10)
    again.resume(tmp_path)
    assert sorted(again.records) == sorted(rec.records) == [0, 1, 5]
    assert np.allclose(again.records[5][0], rec.records[5][0], atol=1e-2)


def test_corrupt_snapshots_are_refused_with_the_file_named(tmp_path):
    (tmp_path / "snapshots.npz").write_bytes(b"not a zip")
    with pytest.raises(WeightsError, match="snapshots.npz"):
        load_snapshots(tmp_path)


# ---------------------------------------------------------------- shared thumbnails
def test_an_atlas_can_share_a_siblings_thumbnails(tmp_path):
    idx = np.array([1, 5, 7], dtype=np.int32)
    thumbs = np.arange(3 * 4, dtype=np.uint8).reshape(3, 1, 2, 2)
    save_atlas(tmp_path / "owner", mu=np.zeros((9, 2)), thumb_index=idx, thumbnails=thumbs)
    save_atlas(tmp_path / "lab", mu=np.ones((9, 2)), thumb_index=idx, thumbnails=thumbs,
               thumbnails_from=np.array("owner"))
    with np.load(tmp_path / "lab" / "atlas.npz") as z:
        assert "thumbnails" not in z.files                          # not stored twice
    assert np.array_equal(load_atlas(tmp_path / "lab")["thumbnails"], thumbs)
    save_atlas(tmp_path / "other", mu=np.ones((9, 2)), thumb_index=idx[::-1].copy(), thumbnails_from=np.array("owner"))
    with pytest.raises(WeightsError, match="same test images"):
        load_atlas(tmp_path / "other")
    save_atlas(tmp_path / "hostile", mu=np.ones((9, 2)), thumb_index=idx, thumbnails_from=np.array("../owner"))
    with pytest.raises(WeightsError, match="sibling"):
        load_atlas(tmp_path / "hostile")


def test_shipped_fashion_atlases_share_one_copy_of_the_thumbnails():
    owner = load_atlas(WEIGHTS / "fashion-mnist")["thumbnails"]
    for name in ("fashion-mnist-2d", *LAB):
        with np.load(WEIGHTS / name / "atlas.npz") as z:
            assert "thumbnails" not in z.files and str(z["thumbnails_from"]) == "fashion-mnist"
        assert np.array_equal(load_atlas(WEIGHTS / name)["thumbnails"], owner)


# ---------------------------------------------------------------- measures
def test_blurring_lowers_the_sharpness_measure():
    rng = np.random.default_rng(0)
    sharp = (rng.random((20, 1, 28, 28)) > 0.5).astype(np.float32)
    blurred = (sharp + np.roll(sharp, 1, -1) + np.roll(sharp, 1, -2) + np.roll(sharp, (1, 1), (-1, -2))) / 4
    assert gradient_magnitude(blurred).mean() < 0.7 * gradient_magnitude(sharp).mean()
    assert sharpness_ratio(sharp, sharp) == pytest.approx(1.0)
    assert sharpness_ratio(blurred, sharp) < 0.7


def test_nearest_distances_skip_oneself_when_asked():
    a = np.array([[[[0.0]]], [[[1.0]]], [[[3.0]]]], dtype=np.float32)
    assert nearest_distances(a, a).tolist() == [0.0, 0.0, 0.0]
    assert nearest_distances(a, a, exclude_self=True).tolist() == pytest.approx([1.0, 1.0, 2.0])


# ---------------------------------------------------------------- side by side
def test_compare_refuses_too_few_too_many_or_unknown_models(tiny_kinds):
    from model.serving.side_by_side import pick_models

    with pytest.raises(ExplorerError, match="2 to 4"):
        pick_models(tiny_kinds, ["tiny-vae"])
    with pytest.raises(ExplorerError, match="2 to 4"):
        pick_models(tiny_kinds, ["tiny-vae", "tiny-ae", "tiny-vq", "a", "b"])
    with pytest.raises(ExplorerError, match="unknown model"):
        pick_models(tiny_kinds, ["tiny-vae", "<script>"])
    with pytest.raises(ExplorerError, match="list"):
        pick_models(tiny_kinds, {"a": 1})
    assert [m.name for m in pick_models(tiny_kinds, "tiny-ae, tiny-vae")] == ["tiny-ae", "tiny-vae"]


def test_compare_report_holds_each_models_images_and_numbers(tiny_kinds):
    """What /compare returns (ui/api.py hands the report over as it is; the served check on the shipped
    models is test_api.py's, slow)."""
    import base64
    import io

    from ui.compare import ComparePanel

    image, names = Image.fromarray(np.zeros((8, 8), dtype=np.uint8)), ["tiny-vae", "tiny-ae", "tiny-vq"]
    r = ComparePanel(tiny_kinds).report(image, names, 0)
    assert list(r["models"]) == names and r["seed"] == 0
    ae, vae = r["models"]["tiny-ae"], r["models"]["tiny-vae"]
    assert ae["kl_nats"] is None and vae["kl_nats"] > 0 and ae["kind"] == "ae"
    for v in r["models"].values():
        assert v["reconstruction"].startswith("data:image/png;base64,") and v["samples"].startswith("data:image/png")
        with Image.open(io.BytesIO(base64.b64decode(v["reconstruction"].split(",", 1)[1]))) as img:
            assert img.size == (280, 280)
        assert v["sharp_recon"] > 0 and v["sample_distance"] > 0 and v["data_distance"] > 0
    assert ComparePanel(tiny_kinds).report(image, names, 0) == r           # same seed, same draws
    assert ComparePanel(tiny_kinds).report(image, names, 1) != r


# ---------------------------------------------------------------- the shipped lab
def shipped(name: str) -> Path:
    path = WEIGHTS / name
    assert (path / "model.safetensors").is_file(), f"{name} is not shipped"
    return path


@pytest.mark.parametrize("name", LAB)
def test_lab_models_load_through_load_vae_with_their_kind(name):
    vae = load_vae(shipped(name))
    kind = {"ae": "ae", "vq": "vq"}.get(name.rsplit("-", 1)[-1], "vae")
    assert vae.config.kind == kind
    mu, logvar = vae.encode(torch.rand(2, 1, 28, 28))
    assert (logvar is None) == (kind != "vae") and mu.shape == (2, vae.config.latent_dim)
    meta = json.loads((WEIGHTS / name / "metrics.json").read_text())
    assert meta["description"] and meta["recipe"] == f"python -m model lab train {name}"


def test_the_beta_sweep_trades_rate_for_distortion_monotonically():
    sweep = json.loads((WEIGHTS / "lab-sweep.json").read_text())
    vae = sorted((r for r in sweep["runs"] if r["kind"] == "vae"), key=lambda r: r["beta"])
    assert [r["beta"] for r in vae] == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
    kl, recon = [r["kl"] for r in vae], [r["recon"] for r in vae]
    assert all(a > b for a, b in pairwise(kl)), kl                # KL falls as beta grows
    assert all(a < b for a, b in pairwise(recon)), recon       # reconstruction rises
    ae = [r for r in sweep["runs"] if r["kind"] == "ae"]
    assert ae and ae[0]["kl"] is None and ae[0]["recon"] < recon[0]  # no KL at all: the lowest distortion
    beta1 = next(r for r in vae if r["beta"] == 1.0)
    assert min(vae, key=lambda r: r["neg_elbo"]) is beta1            # beta = 1 is the best ELBO


@pytest.mark.parametrize("name", LAB_2D)
def test_2d_lab_models_ship_snapshots_that_move(name):
    s = load_snapshots(shipped(name))
    assert s["mu"].shape[1:] == (2000, 2) and len(s["step"]) >= 30
    assert not np.allclose(s["mu"][0], s["mu"][-1], atol=0.05)


def test_the_autoencoder_drifts_outward_while_the_vae_stays_packed():
    ae = load_snapshots(shipped("fashion-mnist-2d-ae"))["mu"].astype(np.float32)
    vae = load_snapshots(shipped("fashion-mnist-2d-vae"))["mu"].astype(np.float32)
    spread = lambda mu: float(np.sqrt((mu ** 2).sum(-1)).mean())   # noqa: E731
    assert spread(ae[-1]) > 20 * spread(ae[1])                      # nothing holds the codes near the origin
    assert spread(vae[-1]) < 2.0                                    # near N(0, I)'s typical radius, about 1.25
    assert spread(ae[-1]) > 3 * spread(vae[-1])


@torch.inference_mode()
def prior_distance(name: str, test: np.ndarray, shape: bool, n: int = 256) -> float:
    """Median distance from n decoded z ~ N(0, I) to their nearest test image (pixel space)."""
    vae = load_vae(shipped(name))
    z = torch.randn(n, vae.config.latent_dim, generator=torch.Generator().manual_seed(0))
    return float(np.median(nearest_distances(vae.decode(z).numpy(), test, shape=shape)))


@pytest.mark.slow
@pytest.mark.parametrize("dim", ["2d", "16d"])
def test_autoencoder_draws_lie_further_from_the_data_than_the_vaes(dim, fashion_test):
    """By shape (each image scaled to unit length): the autoencoder's draws are not clothes. In raw
    pixels they are nearer, and the README says why: they are faint (mean intensity about a third of
    the data's), and a faint image is close to every dark test image."""
    ae = prior_distance(f"fashion-mnist-{dim}-ae", fashion_test.images, shape=True)
    vae = prior_distance(f"fashion-mnist-{dim}-vae", fashion_test.images, shape=True)
    assert ae > 1.5 * vae, (ae, vae)


@pytest.mark.slow
def test_vq_reconstructions_are_sharper_than_the_vaes_by_the_pages_measure(fashion_test):
    test = fashion_test.images[:1000]
    x = torch.from_numpy(test).float().div(255)
    ratios = {}
    with torch.inference_mode():
        for name in ("fashion-mnist-vq", "fashion-mnist-16d-vae"):
            vae = load_vae(shipped(name))
            ratios[name] = sharpness_ratio(vae.decode(vae.posterior(x).mode()).numpy(), test)
    assert ratios["fashion-mnist-vq"] > ratios["fashion-mnist-16d-vae"] + 0.05, ratios
