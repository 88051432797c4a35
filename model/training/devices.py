"""Where training runs: the device, and the process group when torchrun starts several processes
(DistributedDataParallel: gloo on CPU, nccl on GPU). One process, no torchrun: rank 0 of 1."""
from __future__ import annotations

import os
import warnings

import torch
import torch.distributed as dist

from .checkpoints import TrainingError


def dist_info() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def setup_distributed(device: torch.device) -> None:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        # DDP warns that a 1-channel conv's gradient strides differ from its bucket's: harmless, just slower
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def describe(device: torch.device | str = "cpu") -> str:
    """The device in words, as a run records it beside its speed: the GPU's name, or the CPU threads torch uses
    out of the machine's cores."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    threads = torch.get_num_threads()
    return f"{device.type} ({threads} thread{'s' * (threads != 1)}, {os.cpu_count()} cores)"


def pick_device(name: str) -> torch.device:
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise TrainingError("--device cuda asked for, but no CUDA GPU is available")
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return torch.device("cpu")
