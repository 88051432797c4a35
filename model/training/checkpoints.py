"""Training checkpoints: the model's and the optimizer's tensors in one safetensors file, the rest as JSON
metadata (nothing is pickled), written atomically so that a crash or a full disk keeps the last one."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ..nets.vae import ConvVAE
from ..nets.weights import atomic_write


class TrainingError(RuntimeError):
    """Training cannot go on (non-finite loss, bad checkpoint); the message says why."""


def save_checkpoint(path: Path, model: ConvVAE, opt: torch.optim.Optimizer, meta: dict) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    sd = opt.state_dict()
    for idx, st in sd["state"].items():
        for name, val in st.items():
            tensors[f"optim.{idx}.{name}"] = torch.as_tensor(val).detach().cpu().reshape(-1).clone()
    meta = dict(meta, param_groups=sd["param_groups"])
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"meta": json.dumps(meta)}))


def load_checkpoint(path: Path, model: ConvVAE, opt: torch.optim.Optimizer) -> dict:
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads(f.metadata()["meta"])
    except (SafetensorError, OSError, KeyError, json.JSONDecodeError) as e:
        raise TrainingError(f"{path}: unreadable checkpoint ({e}); delete it to start over") from None
    model_sd = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(model_sd, strict=True)
    except RuntimeError as e:
        raise TrainingError(f"{path}: does not match this model's configuration ({str(e).splitlines()[0]})") from None
    state: dict[int, dict] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, idx, name = k.split(".", 2)
            state.setdefault(int(idx), {})[name] = v.reshape(()) if name == "step" else v
    for idx, st in state.items():
        p = opt.param_groups[0]["params"][idx] if len(opt.param_groups) == 1 else None
        if p is not None:
            for name in ("exp_avg", "exp_avg_sq"):
                if name in st:
                    st[name] = st[name].view_as(p).to(p.device)
    opt.load_state_dict({"state": state, "param_groups": meta.pop("param_groups")})
    return meta
