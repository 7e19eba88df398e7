"""When the experiments on checkpoints act: epoch length (for "rewind to the end of epoch
4" and LMC split points), from the task's facts (``Task.full_batch``) and the run's data
section. A run is changed only through ``--set``.
"""

from __future__ import annotations

from specdyn.config.schema import RunConfig
from specdyn.tasks.registry import find_task

REWIND_EPOCH = 4  # Appendix A.8: rewind to the end of epoch 4
PERTURB_EPOCH = 4  # Appendix A.10: perturb at the end of epoch 4


def epoch_steps(cfg: RunConfig) -> int:
    """Optimizer steps per epoch: 1 for full-batch tasks; train_size // batch_size when the
    data section names both; else the evaluation interval (the minibatch presets evaluate
    once per epoch)."""
    task = find_task(cfg.task)
    if task is not None and task.full_batch:
        return 1
    size, batch = getattr(cfg.data, "train_size", 0), getattr(cfg.data, "batch_size", 0)
    if size and batch:
        return max(1, size // batch)
    return max(1, cfg.train.eval_every)


def lmc_splits(cfg: RunConfig) -> tuple[int, ...]:
    """Appendix A.9's split points: 5 evenly spaced in epoch 1 (from step 0), the end of
    epoch 1, and the ends of epochs 2-5; those past the end of training are dropped."""
    e = epoch_steps(cfg)
    steps = [round(j * e / 5) for j in range(5)] + [k * e for k in range(1, 6)]
    return tuple(s for s in sorted(set(steps)) if s < cfg.train.steps)


def lottery_matrix(task: str) -> str:
    """The matrix of Figure 10's single-layer panels for ``task`` ("": none)."""
    found = find_task(task)
    return found.lottery_matrix if found is not None else ""
