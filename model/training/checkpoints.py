"""Training checkpoints: the model's and the optimizer's tensors in one safetensors file, the rest as JSON
metadata (nothing is pickled), written atomically so that a crash or a full disk keeps the last one."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ..nets.vae import ConvVAE
from ..store.weights import atomic_write


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


def read_checkpoint(path: Path) -> tuple[dict, dict]:
    """A checkpoint's tensors and its JSON metadata, or a TrainingError that says how to start over."""
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as f:
            return tensors, json.loads(f.metadata()["meta"])
    except (SafetensorError, OSError, KeyError, json.JSONDecodeError) as e:
        raise TrainingError(f"{path}: unreadable checkpoint ({e}); delete it to start over") from None


def load_checkpoint(path: Path, model: ConvVAE, opt: torch.optim.Optimizer) -> dict:
    tensors, meta = read_checkpoint(path)
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


def save_state(path: Path, modules: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer],
               meta: dict) -> None:
    """Several networks and optimizers in one checkpoint (the GAN's two, the prior's one): tensors under
    "NAME.key" (a module's state) and "NAME.INDEX.key" (an optimizer's state), param groups in the JSON.
    Every name must differ from the others and hold no dot."""
    tensors = {f"{name}.{k}": v.detach().cpu().contiguous()
               for name, m in modules.items() for k, v in m.state_dict().items()}
    groups = {}
    for name, opt in optimizers.items():
        sd = opt.state_dict()
        groups[name] = sd["param_groups"]
        for idx, st in sd["state"].items():
            for key, val in st.items():
                t = torch.as_tensor(val).detach().cpu()
                tensors[f"{name}.{idx}.{key}"] = (t.reshape(1) if t.dim() == 0 else t).contiguous().clone()
    meta = dict(meta, param_groups=groups)
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"meta": json.dumps(meta)}))


def load_state(path: Path, modules: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer]) -> dict:
    """Restore what save_state wrote into the given networks and optimizers (strict); returns the metadata."""
    tensors, meta = read_checkpoint(path)
    for name, m in modules.items():
        sd = {k[len(name) + 1:]: v for k, v in tensors.items() if k.startswith(f"{name}.")}
        try:
            m.load_state_dict(sd, strict=True)
        except RuntimeError as e:
            lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
            raise TrainingError(f"{path}: does not match the {name} ({lines[-1][:200]})") from None
    groups = meta.pop("param_groups")
    for name, opt in optimizers.items():
        state: dict[int, dict] = {}
        for k, v in tensors.items():
            if k.startswith(f"{name}."):
                idx, key = k[len(name) + 1:].split(".", 1)
                state.setdefault(int(idx), {})[key] = v.reshape(()) if key == "step" else v
        opt.load_state_dict({"state": state, "param_groups": groups[name]})
    return meta
