"""Perturbation of weights (Section 7.3.2, Appendix A.10).

W <- ||W|| * normalize(W + eta * ||W|| * G / ||G||) with G standard Gaussian and Frobenius
norms: noise of norm eta * ||W|| is added, then the norm of W is restored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from specdyn.analyses.weights import Weight
from specdyn.errors import ConfigError


def check_eta(eta: float) -> None:
    if not (math.isfinite(eta) and eta >= 0.0):  # NaN and inf as well
        raise ConfigError(f"eta must be >= 0 and finite, got {eta}")


def perturb(W: Tensor, eta: float, G: Tensor) -> Tensor:
    """W perturbed by the direction of ``G`` (same shape) at relative norm ``eta``."""
    check_eta(eta)
    if G.shape != W.shape:
        raise ValueError(f"noise {tuple(G.shape)} must have the shape of W {tuple(W.shape)}")
    norm = torch.linalg.vector_norm(W)
    moved = W + eta * norm * G / torch.linalg.vector_norm(G)
    return norm * moved / torch.linalg.vector_norm(moved)


@torch.no_grad()
def perturb_model(
    model: nn.Module, targets: Sequence[Weight], eta: float, generator: torch.Generator
) -> None:
    """Perturb each target weight in place with its own Gaussian draw from ``generator``
    (drawn on CPU, so the noise does not depend on the device)."""
    params = dict(model.named_parameters())
    for target in targets:
        W = params[target.param]
        G = torch.randn(W.shape, generator=generator, dtype=torch.float64)
        W.copy_(perturb(W.double().cpu(), eta, G).to(W.device, W.dtype))
