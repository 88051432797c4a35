"""One command line for the model package, `python -m model <command> ...`, and what every command does
with a refusal: one line on stderr, exit status 2.

Each command is the `main(argv)` of the module that does the work; this table is the only list of them.
"""
from __future__ import annotations

import importlib
import sys

COMMANDS = {                   # name -> (module with main(argv), what it does)
    "train": ("model.training.loop", "train a model into a weights folder (also under torchrun)"),
    "worker": ("model.training.worker", "train a live job from its run folder (the Train tab starts it)"),
    "evaluate": ("model.training.evaluate", "test-set metrics (and, with --atlas, the map) of a weights folder"),
    "lab": ("model.training.lab", "the lab's one recipe: train, sweep, install, report, collect"),
    "export": ("model.store.onnx", "write a model's ONNX decoder and encoder (the page derives them itself)"),
    "data": ("model.data.build", "build a data set folder: emoji (from the font) or faces (known factors)"),
    "attributes": ("model.analysis.attributes", "compute and store attribute directions (White 2016)"),
    "disentangle": ("model.analysis.disentangle", "MIG and the prior-sample distance of the faces models"),
    "figure": ("model.serving.results_figure", "a picture of a model: reconstructions, a walk, samples"),
    "gan": ("model.training.gan", "train a GAN whose generator is our decoder (checkpointed, resumable)"),
    "prior": ("model.training.prior", "train a VQ-VAE's learned prior over its code grid (a gated PixelCNN)"),
    "classifier": ("model.training.classifier", "train the Fashion-MNIST classifier behind FID, precision and recall"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {what}" for name, (_, what) in COMMANDS.items()]
    return ("usage: python -m model <command> [options]   (python -m model <command> --help for its options)\n\n"
            "commands:\n" + "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if argv[0] not in COMMANDS:
        print(f"error: unknown command {argv[0][:40]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return module.main(argv[1:])


def fail(error: BaseException) -> int:
    """Print `error: ...` on one line (whatever newlines the message holds) and return 2."""
    print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
    return 2


def run(action, *errors: type[BaseException]) -> int:
    """Run action(); print the line it returns and exit 0, or report one of `errors` and exit 2."""
    try:
        print(action())
    except errors as e:
        return fail(e)
    return 0
