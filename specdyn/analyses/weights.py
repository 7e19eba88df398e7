"""Which weights an experiment on checkpoints acts on, decided in one place.

A weight is what the recorder's rule says (``is_weight``: ndim >= 2; biases and norm
scales are left alone). Its matrix view is the recorder's (``matrix_view``): (out, in *
kernel) for convolutions, (c_out, c_in * kernel) for transposed ones, the whole stacked
matrix for attention's in_proj and an LSTM's gates. The final layer (classifier, decoder,
unembedding) is the last weight in module order; it is never pruned, masked or perturbed
(Appendix A.8, A.10). The language model's input embedding is not perturbed either
(A.10): the task names it (``Task.perturb_excluded``).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from specdyn.spectral.matrices import canonical_name, is_weight, matrix_view
from specdyn.tasks.registry import find_task

_CONV_T = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


@dataclass(frozen=True)
class Weight:
    """A weight parameter: ``param`` its state-dict key, ``name`` its matrix name (as the
    recorder names it), ``transposed`` for transposed convolutions (c_in first)."""

    param: str
    name: str
    transposed: bool = False

    def matrix(self, tensor: Tensor) -> Tensor:
        """The 2-D view (m, n) of this weight's ``tensor``, as the recorder takes it."""
        return matrix_view(tensor, self.transposed)

    def unmatrix(self, M: Tensor, shape: tuple[int, ...]) -> Tensor:
        """Back from :meth:`matrix` to the parameter's ``shape``."""
        if not self.transposed:
            return M.reshape(shape)
        swapped = (shape[1], shape[0], *shape[2:])
        return M.reshape(swapped).transpose(0, 1)


def weights(model: nn.Module) -> list[Weight]:
    """Every weight of ``model`` in module order; a shared parameter comes once."""
    out, seen = [], set()
    for module_name, module in model.named_modules():
        prefix = f"{module_name}." if module_name else ""
        for name, param in module.named_parameters(recurse=False):
            if is_weight(param) and id(param) not in seen:
                seen.add(id(param))
                key = prefix + name
                out.append(Weight(key, canonical_name(key), isinstance(module, _CONV_T)))
    return out


def output_layer(model: nn.Module) -> Weight:
    """The final layer: the last weight in module order."""
    found = weights(model)
    if not found:
        raise ValueError(f"{type(model).__name__} has no weight with ndim >= 2")
    return found[-1]


def inner_weights(model: nn.Module) -> list[Weight]:
    """Every weight but the final layer: what pruning and lottery masks act on."""
    return weights(model)[:-1]


def perturbed_weights(model: nn.Module, task: str) -> list[Weight]:
    """Every weight but the final layer and the task's excluded ones (Appendix A.10)."""
    found = find_task(task)
    excluded = found.perturb_excluded if found is not None else ()
    return [w for w in inner_weights(model) if w.name not in excluded]
