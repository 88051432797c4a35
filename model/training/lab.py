"""The lab: autoencoder vs VAE vs beta-VAE vs VQ-VAE, trained with one recipe so that only the
bottleneck differs. `python -m model lab --help`.

    python -m model lab train fashion-mnist-2d-ae --out runs/     # one lab model, by its recipe
    python -m model lab sweep --out runs/sweep                    # the 16-D beta sweep (+ autoencoder)
    python -m model lab install runs/fashion-mnist-2d-ae weights/  # into the shipped weights
    python -m model lab install runs/sweep/beta-1 weights/ --name fashion-mnist-16d-vae
    python -m model lab collect runs/sweep --out weights/lab-sweep.json
    python -m model lab report weights/ fashion-mnist-2d-ae fashion-mnist-2d-vae ...   # the README's numbers

The sweep traces distortion (reconstruction nats) against rate (KL nats), the curve of Alemi et al.
2018, "Fixing a Broken ELBO": every beta buys a different point on it.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from ..cli import fail
from ..data import DataError
from ..nets.kinds import kind_of
from ..store.weights import WeightsError, load_atlas, load_metrics, save_atlas, write_json

RECIPE = ["--dataset", "fashion-mnist", "--hidden", "128", "--widths", "32,64", "--res-blocks", "1",
          "--epochs", "10", "--kl-warmup", "1", "--batch-size", "128", "--lr", "2e-3", "--seed", "0"]
THUMBNAILS_OWNER = "fashion-mnist"        # the shipped folder whose test thumbnails the lab shares

MODELS = {
    "fashion-mnist-2d-ae": (["--kind", "ae", "--latent-dim", "2", "--snapshots", "40"],
                            "lab: a plain autoencoder, 2-D: each image is a point, no KL, no prior"),
    "fashion-mnist-2d-vae": (["--latent-dim", "2", "--snapshots", "40"],
                             "lab: the VAE twin (beta = 1), 2-D: each image is a Gaussian cloud"),
    "fashion-mnist-2d-beta4": (["--latent-dim", "2", "--beta", "4", "--snapshots", "40"],
                               "lab: a beta-VAE (beta = 4), 2-D: larger, overlapping clouds, more blur"),
    "fashion-mnist-16d-ae": (["--kind", "ae", "--latent-dim", "16", "--map", "umap"],
                             "lab: a plain autoencoder, 16-D, beside the 16-D VAE twin"),
    "fashion-mnist-16d-vae": (["--latent-dim", "16", "--map", "umap"],
                              "lab: the VAE twin (beta = 1), 16-D: the sweep's beta = 1 point"),
    "fashion-mnist-vq": (["--kind", "vq", "--latent-dim", "196", "--code-dim", "4", "--codebook-size", "256",
                          "--map", "umap"],
                         "lab: a VQ-VAE, a 7x7 grid of codes from a 256-entry codebook: sharp; samples through a "
                         "PixelCNN prior over the codes"),
}
SWEEP_BETAS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
SWEEP_ARGS = ["--latent-dim", "16", "--map", "pca", "--iwae-k", "10"]
SWEEP_SHIPPED = {"beta-1": "fashion-mnist-16d-vae", "ae": "fashion-mnist-16d-ae"}   # sweep runs the page offers


def train_args(name: str, out: str) -> list[str]:
    """The `python -m model train` arguments of one lab model."""
    if name not in MODELS:
        raise WeightsError(f"unknown lab model {name!r}; one of: {', '.join(MODELS)}")
    return [*RECIPE, *MODELS[name][0], "--out", str(Path(out) / name)]


def sweep_runs(out: str) -> dict[str, list[str]]:
    """The sweep: one 16-D VAE per beta, plus the autoencoder (beta has no meaning there)."""
    runs = {f"beta-{b:g}": [*RECIPE, *SWEEP_ARGS, "--beta", str(b), "--out", str(Path(out) / f"beta-{b:g}")]
            for b in SWEEP_BETAS}
    runs["ae"] = [*RECIPE, *SWEEP_ARGS, "--kind", "ae", "--out", str(Path(out) / "ae")]
    return runs


def install(run: Path, weights: Path, name: str | None = None) -> Path:
    """Copy a finished run into weights/NAME: config, float16 weights, metrics (with the picker's
    description), snapshots; the atlas shares the shipped model's test thumbnails."""
    name = name or run.name
    dest = weights / name
    dest.mkdir(parents=True, exist_ok=True)
    for f in ("config.json", "model.safetensors", "snapshots.npz"):
        if (run / f).is_file():
            shutil.copyfile(run / f, dest / f)
    atlas = load_atlas(run)
    if "logvar" not in atlas and "kl_per_dim" in atlas:       # written before code_var had its own name
        atlas["code_var"] = atlas.pop("kl_per_dim")
    if (weights / THUMBNAILS_OWNER).is_dir() and name != THUMBNAILS_OWNER:
        atlas["thumbnails_from"] = THUMBNAILS_OWNER
    save_atlas(dest, **atlas)
    load_atlas(dest)                                     # the shared thumbnails must resolve
    metrics = load_metrics(run)
    if name in MODELS:
        metrics["description"] = MODELS[name][1]
    metrics["recipe"] = "python -m model lab train " + name
    write_json(dest / "metrics.json", metrics)
    return dest


def report(weights: Path, names: list[str]) -> list[dict]:
    """The lab's claims measured on the full Fashion-MNIST test set, stored in each model's
    metrics.json ("measures") and returned as rows for the README's table."""
    from ..analysis.sample_quality import blur_and_distance  # noqa: PLC0415
    from ..data import load_dataset  # noqa: PLC0415
    from ..store.companions import attach_prior  # noqa: PLC0415
    from ..store.weights import load_vae  # noqa: PLC0415

    test = load_dataset("fashion-mnist", "test").images
    rows = []
    for name in names:
        vae = load_vae(weights / name)
        attach_prior(vae, weights / name)                 # a VQ-VAE samples through its prior when it ships one
        measured = blur_and_distance(vae, test)
        metrics = load_metrics(weights / name)
        metrics["measures"] = dict(measured, images=len(test))
        write_json(weights / name / "metrics.json", metrics)
        rows.append({"name": name, "kind": vae.config.kind, "latent_dim": vae.config.latent_dim,
                     "recon": metrics.get("test_recon"), "kl": metrics.get("test_kl"), **measured})   # a GAN: none
    return rows


def collect(sweep_dir: Path) -> dict:
    """The sweep's test metrics, one row per run, for the rate-distortion chart (lab-sweep.json)."""
    rows = []
    for run in sorted(p for p in sweep_dir.iterdir() if (p / "metrics.json").is_file()):
        m, cfg = load_metrics(run), json.loads((run / "config.json").read_text())
        rows.append({"name": run.name, "kind": cfg.get("kind", "vae"), "beta": cfg.get("beta"),
                     "latent_dim": cfg["latent_dim"], "recon": m["test_recon"], "kl": m["test_kl"],
                     "neg_elbo": m["test_neg_elbo"], "active_units": m["active_units"],
                     "shipped_as": SWEEP_SHIPPED.get(run.name)})
    rows.sort(key=lambda r: (not kind_of(r["kind"]).has_kl, r["beta"] or 0))     # rate-distortion points first
    return {"dataset": "fashion-mnist", "command": "python -m model lab sweep --out runs/sweep",
            "recipe": " ".join(RECIPE + SWEEP_ARGS), "runs": rows}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m model lab", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train one lab model by the recipe")
    t.add_argument("name", choices=sorted(MODELS))
    t.add_argument("--out", default="runs")
    t.add_argument("--resume", action="store_true")
    s = sub.add_parser("sweep", help="train the beta sweep, one run after another")
    s.add_argument("--out", default="runs/sweep")
    s.add_argument("--resume", action="store_true")
    i = sub.add_parser("install", help="copy a finished run into a weights folder")
    i.add_argument("run")
    i.add_argument("weights")
    i.add_argument("--name", default=None, help="the folder's name under WEIGHTS (default: the run's)")
    r = sub.add_parser("report", help="measure sharpness and sample distance on the test set (metrics.json)")
    r.add_argument("weights")
    r.add_argument("names", nargs="+")
    c = sub.add_parser("collect", help="gather the sweep's metrics into lab-sweep.json")
    c.add_argument("sweep")
    c.add_argument("--out", required=True)
    args = p.parse_args(argv)
    try:
        if args.cmd in ("train", "sweep"):
            from . import loop as train  # noqa: PLC0415  (torch training, only when asked)
            runs = ({args.name: train_args(args.name, args.out)} if args.cmd == "train" else sweep_runs(args.out))
            for argv_ in runs.values():
                code = train.main(argv_ + (["--resume"] if args.resume else []))
                if code:
                    return code
        elif args.cmd == "report":
            for row in report(Path(args.weights), args.names):
                print(json.dumps(row))
        elif args.cmd == "install":
            print(f"installed {install(Path(args.run), Path(args.weights), args.name)}")
        else:
            write_json(args.out, collect(Path(args.sweep)))
            print(f"wrote {args.out}")
    except (WeightsError, DataError, OSError, KeyError) as e:
        return fail(e)
    return 0
