"""How well a map separates the classes: the leave-one-out k-nearest-neighbour class accuracy of points
(k = 10, Euclidean, majority vote, a tie going to the class met first). The Train tab shows it for a run's
held-out means ("classes separate: 0.61"), and the benchmarks score runs by it."""
from __future__ import annotations

import numpy as np
import torch

K = 10


def knn_accuracy(points: np.ndarray, labels: np.ndarray, k: int = K) -> float:
    """The share of points whose k nearest others (themselves left out) vote for their own class."""
    x = torch.as_tensor(np.asarray(points, dtype=np.float64))
    lab_all = torch.as_tensor(np.asarray(labels).astype(np.int64))
    d = torch.cdist(x, x)                                                               # (N, N)
    d.fill_diagonal_(float("inf"))
    nn = d.topk(k, dim=1, largest=False, sorted=True).indices                           # nearest first
    lab = lab_all[nn]                                                                   # (N, k)
    counts = torch.nn.functional.one_hot(lab, int(lab_all.max()) + 1).sum(1)           # (N, classes)
    votes = counts.gather(1, lab)                                                       # each neighbour's class
    first_best = (votes == votes.max(1, keepdim=True).values).to(torch.int8).argmax(1)  # first such neighbour
    pred = lab.gather(1, first_best[:, None])[:, 0]
    return float((pred == lab_all).double().mean())
