"""Singular vector agreement (paper Eq. 5) of each recorded step with the final one.

Computed after training from the vectors the recorder stored: no SVD is repeated.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import safe_open
from torch import Tensor

from specdyn.spectral.metrics import agreement_matrix
from specdyn.store import layout


def agreement_diagonals(run_path: Path, k: int = 100) -> tuple[list[int], dict[str, Tensor]]:
    """(recorded steps, matrix -> (steps, k') diagonal of Eq. 5 against the last step)."""
    files = layout.step_files(run_path / layout.SPECTRA)
    if not files:
        return [], {}
    final = _vectors(files[-1])
    rows: dict[str, list[Tensor]] = {name: [] for name in final}
    for path in files:
        current = _vectors(path)
        for name, (U_T, V_T) in final.items():
            U_t, V_t = current[name]
            A = agreement_matrix(U_t.float(), V_t.float(), U_T.float(), V_T.float(), k)
            rows[name].append(A.diagonal())
    steps = [layout.step_of(p) for p in files]
    return steps, {name: torch.stack(d) for name, d in rows.items()}


def _vectors(path: Path) -> dict[str, tuple[Tensor, Tensor]]:
    with safe_open(path, framework="pt") as f:
        names = [key[2:] for key in f.keys() if key.startswith("U/")]
        return {n: (f.get_tensor(f"U/{n}"), f.get_tensor(f"V/{n}")) for n in names}
