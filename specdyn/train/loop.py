"""The closed training loop: build, resume, step, call back. Nothing else lives here."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm import tqdm

from specdyn.config.overrides import to_dict
from specdyn.config.schema import RunConfig
from specdyn.config.validate import validate
from specdyn.errors import DivergedError
from specdyn.record.recorder import Recorder
from specdyn.record.schedule import Schedule
from specdyn.store import layout
from specdyn.store.writer import RunWriter
from specdyn.tasks.base import Experiment
from specdyn.tasks.registry import get_task
from specdyn.train import callbacks as cb
from specdyn.train.interrupt import stop_on_signals
from specdyn.train.memory import fix_mmap_threshold
from specdyn.train.optim import build_optimizer, build_scheduler
from specdyn.train.run_info import check_same_config, describe
from specdyn.train.state import load_state, restore


def train(cfg: RunConfig, run_dir: Path, device: torch.device, progress: bool = True) -> Path:
    """Train ``cfg`` into ``run_dir``, resuming from its saved state if there is one."""
    fix_mmap_threshold()  # a long run's memory stays flat (see specdyn.train.memory)
    exp = get_task(validate(cfg).task).build(cfg, device)
    check_same_config(run_dir, to_dict(cfg))
    writer = RunWriter(run_dir)
    optimizer = build_optimizer(exp.model, cfg.optim)
    scheduler = build_scheduler(optimizer, cfg.optim, cfg.train.steps)
    start = _resume(writer, exp, optimizer, scheduler)
    if start is not None:  # None: training finished earlier
        writer.write_config(describe(cfg, exp, device))
    recorder = _recorder(cfg, writer, exp)
    if start is not None:
        state = cb.TrainState(start, exp.model, optimizer, scheduler, writer)
        precision = autocast(cfg.train.bf16, device)
        calls = _callbacks(cfg, exp, recorder, precision)
        _loop(cfg, exp, state, calls, precision, progress)
    if not (run_dir / layout.AGREEMENT).exists():
        recorder.finish()
    if exp.artifacts is not None and not (run_dir / layout.ARTIFACTS).exists():
        exp.model.eval()
        writer.write_artifacts(exp.artifacts(exp.model))
    return run_dir


def autocast(bf16: bool, device: torch.device) -> Callable[[], contextlib.AbstractContextManager]:
    """The mixed-precision context of the loss and evaluation: bfloat16 autocast when
    ``bf16`` is asked for on CUDA, otherwise nothing (CPU runs stay float32)."""
    if bf16 and device.type == "cuda":
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


@stop_on_signals  # SIGINT / SIGTERM: save the state between two steps and stop
def _loop(
    cfg: RunConfig, exp: Experiment, state: cb.TrainState, calls, precision, progress
) -> None:
    start, steps = state.step, cfg.train.steps
    bar = tqdm(total=steps, initial=start, disable=not progress, unit="step", leave=False)
    for step in range(start, steps + 1):
        state.step = step
        if step > start or start == 0:  # a resumed step already ran its callbacks
            for call in calls:
                call(state)
            _show(bar, state, exp.error_label)
        if step == steps:
            break
        state.stop.here(state)
        with precision():
            loss = _loss(exp, step)
        _update(exp, loss, state.optimizer, state.scheduler, cfg.optim.grad_clip)
        bar.update(1)
    bar.close()


def _loss(exp: Experiment, step: int) -> torch.Tensor:
    exp.model.train()
    loss = exp.loss(exp.model, step)
    if not torch.isfinite(loss):
        raise DivergedError(f"training loss is {loss.item()} at step {step}")
    return loss


def _update(exp: Experiment, loss: torch.Tensor, optimizer, scheduler, grad_clip: float) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(exp.model.parameters(), grad_clip)
    optimizer.step()
    scheduler.step()


def _resume(writer: RunWriter, exp: Experiment, optimizer, scheduler) -> int | None:
    """The first step to run: 0 for a fresh run, None when the run is complete."""
    saved = load_state(writer.path)
    if saved is None:
        writer.drop_after(-1)  # a run killed before its first state starts clean
        return 0
    if saved["done"]:
        return None
    restore(saved, exp.model, optimizer, scheduler)
    writer.drop_after(saved["step"])
    return saved["step"]


def _recorder(cfg: RunConfig, writer: RunWriter, exp: Experiment) -> Recorder:
    r = cfg.record
    schedule = Schedule(every=r.every, at=r.at, log_points=r.log_points, last=cfg.train.steps)
    dtype = getattr(torch, r.vector_dtype)
    heads = r.heads or exp.heads
    return Recorder(writer, schedule, exp.pairs, r.top_k, heads, vector_dtype=dtype)


def _callbacks(cfg: RunConfig, exp: Experiment, recorder: Recorder, precision) -> list[cb.Callback]:
    t, last = cfg.train, cfg.train.steps

    def evaluate(model: torch.nn.Module) -> dict[str, dict[str, float]]:
        with precision():
            return exp.evaluate(model)

    return [
        cb.evaluate(evaluate, Schedule(every=t.eval_every, last=last)),
        cb.record(recorder),
        cb.checkpoint(Schedule(every=t.checkpoint_every, at=t.checkpoint_at, last=last)),
        cb.save_resume_state(Schedule(every=t.state_every, last=last)),
    ]


def _show(bar: tqdm, state: cb.TrainState, error_label: str) -> None:
    """Step, loss and accuracy per split; the task's own rate when "error" means more."""
    if not state.last:
        return
    shown = {"step": state.step}
    for split, values in state.last.items():
        shown[f"{split}_loss"] = f"{values['loss']:.3g}"
        if error_label == "error":
            shown[f"{split}_acc"] = f"{1 - values['error']:.3f}"
        else:
            shown[f"{split}_{error_label.split()[-1]}"] = f"{values['error']:.3g}"
    bar.set_postfix(shown, refresh=False)
