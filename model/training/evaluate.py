"""`python -m model evaluate WEIGHTS_DIR [--iwae-k 1000]`: test-set metrics into metrics.json.

Also home of the atlas builder that training calls: the test set's posterior means, the 2-D map
of them, the average KL per dimension and a few thousand thumbnails, all in atlas.npz.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ..analysis import typicality
from ..analysis.sample_quality import nearest
from ..cli import fail
from ..data import DataError, Dataset, load_dataset
from ..nets.encoding import encode_all
from ..nets.kinds import kind_of
from ..nets.losses import iwae_bound, reconstruction_nll
from ..nets.placement import embed_2d
from ..nets.posterior import DiagonalGaussian, active_units
from ..nets.vae import ConvVAE
from ..nets.walk import sample_prior
from ..store.pictures import to_uint8
from ..store.weights import WeightsError, load_atlas, load_metrics, load_vae, save_atlas, write_metrics

N_THUMBNAILS = 3000
THUMBNAIL_BYTES = 6_000_000        # at most this much raw pixel data: 3,000 28x28 thumbnails, 488 of 64x64x3


@torch.inference_mode()
def compute_metrics(vae: ConvVAE, ds: Dataset, iwae_k: int = 100, iwae_n: int | None = 1000,
                    seed: int = 0, batch: int = 500) -> dict:
    """Test -ELBO (BCE or Gaussian NLL summed over pixels + closed-form KL, one z sample per
    image), its two terms, the importance-weighted bound on iwae_n images, and active units.

    A plain autoencoder has no KL, so its -ELBO and KL are None (not a number we would make up);
    a VQ-VAE's KL is its constant groups * log K."""
    cfg, kind = vae.config, kind_of(vae)
    gen = torch.Generator().manual_seed(seed + 1)
    t0 = time.time()
    recon_sum = kl_sum = 0.0
    kl_dims = torch.zeros(cfg.latent_dim, dtype=torch.float64)
    mus = []
    for i in range(0, len(ds), batch):
        x = torch.from_numpy(ds.images[i:i + batch]).float().div_(255)
        q = vae.posterior(x)
        z = q.sample(gen)
        recon_sum += reconstruction_nll(vae.decode_logits(z), x, cfg.recon, cfg.mse_sigma).double().sum().item()
        if kind.has_sigma:
            kl_dims += q.kl_per_dim().double().sum(0)
        if kind.has_kl:
            kl_sum += q.kl().double().sum().item()
        mus.append(q.mu)
    n = len(ds)
    m = min(iwae_n or n, n)
    iw = []
    for i in range(0, m if kind.has_sigma else 0, 100):
        x = torch.from_numpy(ds.images[i:min(i + 100, m)]).float().div_(255)
        iw.append(iwae_bound(vae, x, k=iwae_k, generator=gen))
    has_kl = kind.has_kl
    return {
        "kind": cfg.kind,
        "test_neg_elbo": round((recon_sum + kl_sum) / n, 3) if has_kl else None,
        "test_recon": round(recon_sum / n, 3),
        "test_kl": round(kl_sum / n, 3) if has_kl else None,
        "test_iwae_nll": round(-torch.cat(iw).double().mean().item(), 3) if iw else None,
        "iwae_k": iwae_k if iw else None,
        "iwae_images": m if iw else 0,
        "test_images": n,
        "active_units": int(active_units(torch.cat(mus).numpy()).sum()),
        "kl_per_dim": [round(v, 4) for v in (kl_dims / n).tolist()] if kind.has_sigma else None,
        "eval_seconds": round(time.time() - t0, 1),
    }


def build_atlas(vae: ConvVAE, ds: Dataset, out: Path, method: str = "auto", seed: int = 0,
                thumbnails_from: str | None = None) -> dict:
    """Encode the test split and store everything the app's map needs, computed once here.
    thumbnails_from names a sibling folder (same data set) whose thumbnails this atlas shares."""
    mu, logvar = encode_all(vae, ds.images)
    xy, used = embed_2d(mu, method=method, seed=seed)
    rng = np.random.default_rng(seed)
    n_thumbs = min(N_THUMBNAILS, len(ds), THUMBNAIL_BYTES // ds.images[0].nbytes)
    thumb_idx = np.sort(rng.choice(len(ds), size=n_thumbs, replace=False))
    atlas = {
        "mu": mu, "labels": ds.labels.astype(np.int16),
        "class_names": np.array(ds.class_names, dtype=str), "xy": xy.astype(np.float32),
        "map_method": np.array(used),
        "thumb_index": thumb_idx.astype(np.int32), "thumbnails": ds.images[thumb_idx],
    }
    if logvar is not None:
        atlas["logvar"] = logvar
        atlas["kl_per_dim"] = (DiagonalGaussian(torch.from_numpy(mu), torch.from_numpy(logvar))
                               .kl_per_dim().mean(0).numpy().astype(np.float32))
    else:                          # no KL to rank dimensions by: how much each code varies instead
        atlas["code_var"] = mu.var(axis=0).astype(np.float32)
    if thumbnails_from:
        atlas["thumbnails_from"] = np.array(thumbnails_from)
    save_atlas(out, **atlas)
    return atlas


GENERATOR_DRAWS = 5000       # a GAN's map: this many draws z ~ N(0, I)


@torch.inference_mode()
def build_generator_atlas(vae: ConvVAE, ds: Dataset, out: Path, thumbnails_from: str, n: int = GENERATOR_DRAWS,
                          seed: int = 0, method: str = "auto") -> dict:
    """A GAN's atlas: with no encoder there are no encoded test images to map, so its map holds n draws
    z ~ N(0, I), placed by UMAP of the images they make (the generator's own picture of its output) and
    coloured by the class of each image's nearest test image by shape (sample_quality.nearest). The test
    thumbnails are shared with a sibling folder (the reference the measures use); "thumb_labels" are
    theirs, since the map's labels belong to the draws."""
    z = sample_prior(n, vae.config.latent_dim, 1.0, seed)
    images = np.concatenate([to_uint8(vae.decode(z[i:i + 1000])).numpy() for i in range(0, n, 1000)])
    _, nearest_test = nearest(images, ds.images, shape=True)
    xy, used = embed_2d(images.reshape(n, -1).astype(np.float32) / 255, method=method, seed=seed)
    owner = load_atlas(out.parent / thumbnails_from)
    atlas = {"mu": z.numpy(), "labels": ds.labels[nearest_test].astype(np.int16),
             "class_names": np.array(ds.class_names, dtype=str), "xy": xy.astype(np.float32),
             "map_method": np.array(used),
             "thumb_index": owner["thumb_index"], "thumb_labels": ds.labels[owner["thumb_index"]].astype(np.int16),
             "code_var": z.numpy().var(axis=0).astype(np.float32), "thumbnails_from": np.array(thumbnails_from)}
    save_atlas(out, **atlas)
    return atlas


def typicality_of(vae: ConvVAE, ds: Dataset, iwae_images: int = typicality.IWAE_IMAGES) -> dict:
    """metrics.json's "typicality": the test set's scores as quantiles (model.analysis.typicality); none for
    an autoencoder, which has no likelihood."""
    if not kind_of(vae).has_likelihood:
        return {}
    return {"typicality": typicality.reference(vae, ds.images, iwae_images)}


def store_typicality(vae: ConvVAE, ds: Dataset, folder: Path) -> int:
    t0 = time.time()
    found = typicality_of(vae, ds)
    if not found:
        print(f"{folder}: a {vae.config.kind} has no likelihood; nothing to store")
        return 0
    write_metrics(folder, found)
    ref = found["typicality"]
    print(f"{folder}: typicality of {ref['n']} test images (scale {ref['scale']}), median -ELBO of the 8-bit "
          f"image {ref['neg_elbo_quantiles'][500]:.1f} nats, median score {ref['score_quantiles'][500]:.1f} "
          f"({time.time() - t0:.1f} s)")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m model evaluate", description=__doc__.splitlines()[0])
    p.add_argument("weights", help="weights folder, e.g. weights/fashion-mnist")
    p.add_argument("--iwae-k", type=int, default=1000, help="samples per image for the IWAE bound")
    p.add_argument("--iwae-n", type=int, default=1000, help="test images for the IWAE bound (0: all)")
    p.add_argument("--dataset", default=None, help="default: the one in metrics.json")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--atlas", action="store_true", help="also rebuild atlas.npz")
    p.add_argument("--map", choices=["auto", "umap", "pca"], default="auto")
    p.add_argument("--thumbnails-from", default=None,
                   help="with --atlas: share the thumbnails of this sibling folder (same data set)")
    p.add_argument("--typicality", action="store_true",
                   help="only the test set's distribution of the typicality scores (metrics.json \"typicality\")")
    args = p.parse_args(argv)
    try:
        vae = load_vae(args.weights)
        dataset = args.dataset or load_metrics(args.weights).get("dataset", "fashion-mnist")
        ds = load_dataset(dataset, "test", args.data_dir, vae.config.image_size, vae.config.channels)
        if args.typicality:
            return store_typicality(vae, ds, Path(args.weights))
        metrics = compute_metrics(vae, ds, iwae_k=args.iwae_k, iwae_n=args.iwae_n or None, seed=args.seed)
        metrics.update(typicality_of(vae, ds))
        if args.atlas:
            build_atlas(vae, ds, Path(args.weights), method=args.map, seed=args.seed,
                        thumbnails_from=args.thumbnails_from)
        write_metrics(Path(args.weights), metrics)
    except (WeightsError, DataError) as e:
        return fail(e)
    shown = {k: v for k, v in metrics.items() if k != "kl_per_dim"}
    print(json.dumps(shown, indent=2))
    return 0
