"""The closed training loop: build, resume, step, call back. Nothing else lives here."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm import tqdm

from specdyn.config.schema import RunConfig
from specdyn.errors import DivergedError, RunStoreError
from specdyn.record.recorder import Recorder
from specdyn.record.schedule import Schedule
from specdyn.store import layout
from specdyn.store.atomic import check_path_name
from specdyn.store.reader import open_run, read_config
from specdyn.store.verify import check_run_files
from specdyn.store.writer import RunWriter
from specdyn.tasks import registry
from specdyn.tasks.base import Experiment
from specdyn.tasks.checks import validate_run
from specdyn.train import callbacks as cb
from specdyn.train.branch import BranchStart
from specdyn.train.denormals import flushed_denormals
from specdyn.train.interrupt import stop_on_signals
from specdyn.train.optim import build_optimizer, build_scheduler
from specdyn.train.run_info import check_same_config, describe
from specdyn.train.state import Optimizer, Scheduler, load_state, restore

Precision = Callable[[], contextlib.AbstractContextManager]  # the mixed-precision context


def train(
    cfg: RunConfig,
    run_dir: Path,
    device: torch.device,
    progress: bool = True,
    branch: BranchStart | None = None,
) -> Path:
    """Train ``cfg`` into ``run_dir``, resuming from its saved state if there is one.

    The folder is locked for this process first (an existing folder before the task is
    built, so a second process is refused at once), and the run ends with ``_finish``.
    ``branch``: start from another run's training state instead of step 0 (see BranchStart).
    """
    validate_run(cfg)
    check_path_name(run_dir)  # before the task is built and any folder is made
    writer = RunWriter(run_dir) if run_dir.is_dir() else None
    with flushed_denormals():  # CPU steps stay fast late in a run (see train.denormals)
        try:
            exp = registry.get_task(cfg.task).build(cfg, device)
            writer = writer or RunWriter(run_dir)
            check_same_config(run_dir, cfg)
            check_run_files(run_dir, cfg.train.steps)  # a damaged file: refused, nothing written
            optimizer = build_optimizer(exp.model, cfg.optim)
            scheduler = build_scheduler(optimizer, cfg.optim, cfg.train.steps)
            last = cfg.train.steps
            info = lambda: describe(cfg, exp, device)  # noqa: E731
            start, fresh = _resume(writer, exp, optimizer, scheduler, last, info, branch)
            hooks = branch or BranchStart({})
            recorder = _recorder(cfg, writer, exp)
            state = cb.TrainState(start, exp.model, optimizer, scheduler, writer)
            state.flush = recorder.flush
            precision = autocast(cfg.train.bf16, device)
            calls = _callbacks(cfg, exp, recorder, precision)
            if start < last:
                _loop(cfg, exp, state, calls, precision, progress, fresh, hooks)
            _finish(cfg, exp, state, calls[:-1], recorder)
        finally:
            if writer is not None:
                writer.close()
    return run_dir


def _finish(
    cfg: RunConfig,
    exp: Experiment,
    state: cb.TrainState,
    final_calls: list[cb.Callback],
    recorder: Recorder,
) -> None:
    """Make the run complete: the final step's records and checkpoint, the agreement file
    and rows, the artifacts. Each part is checked on disk and redone from the final model
    if missing, so a kill at any moment leaves a run that the same command completes."""
    steps, run = cfg.train.steps, open_run(state.writer.path)
    if not run.has_step(steps):
        state.step = steps
        for call in final_calls:  # evaluation, record, checkpoint (the state is saved)
            call(state)
        recorder.flush()
        run = open_run(state.writer.path)
    gaps = run.record_gaps()  # a lost record of an earlier step cannot be redone
    if gaps:
        raise RunStoreError(f"run '{run.path}' cannot be completed: {gaps[0]}")
    recorder.finish()
    if exp.artifacts is not None and not run.artifacts():
        exp.model.eval()
        state.writer.write_artifacts(exp.artifacts(exp.model))


def autocast(bf16: bool, device: torch.device) -> Callable[[], contextlib.AbstractContextManager]:
    """The mixed-precision context of the loss and evaluation: bfloat16 autocast when
    ``bf16`` is asked for on CUDA, otherwise nothing (CPU runs stay float32)."""
    if bf16 and device.type == "cuda":
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


@stop_on_signals  # SIGINT / SIGTERM: save the state between two steps and stop
def _loop(
    cfg: RunConfig,
    exp: Experiment,
    state: cb.TrainState,
    calls: list[cb.Callback],
    precision: Precision,
    progress: bool,
    fresh: bool,
    hooks: BranchStart,
) -> None:
    start, steps = state.step, cfg.train.steps
    bar = tqdm(total=steps, initial=start, disable=not progress, unit="step", leave=False)
    for step in range(start, steps + 1):
        state.step = step
        if step > start or fresh:  # a resumed step already ran its callbacks
            for call in calls:
                call(state)
            _show(bar, state)
        if step == steps:
            break
        state.stop.here(state)
        with precision():
            loss = _loss(exp, step)
        _update(exp, loss, state.optimizer, state.scheduler, cfg.optim.grad_clip, hooks)
        bar.update(1)
    bar.close()


def _loss(exp: Experiment, step: int) -> torch.Tensor:
    exp.model.train()
    loss = exp.loss(exp.model, step)
    if not torch.isfinite(loss):
        raise DivergedError(f"training loss is {loss.item()} at step {step}")
    return loss


def _update(
    exp: Experiment,
    loss: torch.Tensor,
    optimizer: Optimizer,
    scheduler: Scheduler,
    grad_clip: float,
    hooks: BranchStart,
) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    hooks.after_backward(exp.model)
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(exp.model.parameters(), grad_clip)
    optimizer.step()
    scheduler.step()
    hooks.after_step(exp.model)


def _resume(
    writer: RunWriter,
    exp: Experiment,
    optimizer: Optimizer,
    scheduler: Scheduler,
    last: int,
    describe: Callable[[], dict],
    branch: BranchStart | None,
) -> tuple[int, bool]:
    """(the step to start or resume from, whether it starts afresh): 0 (or the branch's
    split step) for a fresh run, the saved step otherwise (the final one when training
    ended); the config is (re)written unless training ended."""
    saved = load_state(writer.path)
    if saved is None:
        writer.write_config(describe())
        writer.drop_after(-1)  # a run killed before its first state starts clean
        if branch is None:
            return 0, True
        restore(dict(branch.state), exp.model, optimizer, scheduler, writer.path / layout.BRANCH)
        branch.change(exp.model)
        return int(branch.state["step"]), True
    restore(saved, exp.model, optimizer, scheduler, writer.path / layout.STATE)
    if saved["step"] < last:
        writer.write_config(describe())
        writer.drop_after(saved["step"])
    return saved["step"], False


def _recorder(cfg: RunConfig, writer: RunWriter, exp: Experiment) -> Recorder:
    r = cfg.record
    schedule = Schedule(every=r.every, at=r.at, log_points=r.log_points, last=cfg.train.steps)
    dtype = getattr(torch, r.vector_dtype)
    heads = r.heads or exp.heads
    points = r.vector_points if _thins(writer) else 0
    return Recorder(
        writer,
        schedule,
        exp.pairs,
        r.top_k,
        heads,
        vector_dtype=dtype,
        vector_points=points,
        metrics=r.metrics,
    )


def _thins(writer: RunWriter) -> bool:
    """Whether the run's saved config has ``record.vector_points``: a run finished before
    that field existed (its config is not rewritten) keeps every vector it has."""
    record = (read_config(writer.path, missing_ok=True) or {}).get("record", {})
    return isinstance(record, dict) and "vector_points" in record


def _callbacks(
    cfg: RunConfig, exp: Experiment, recorder: Recorder, precision: Precision
) -> list[cb.Callback]:
    t, last = cfg.train, cfg.train.steps

    def evaluate(model: torch.nn.Module) -> dict[str, dict[str, float]]:
        with precision():
            return exp.evaluate(model)

    return [
        cb.evaluate(evaluate, Schedule(every=t.eval_every, last=last)),
        cb.record(recorder),
        cb.checkpoint(Schedule(every=t.checkpoint_every, at=t.checkpoint_at, last=last)),
        cb.keep_state(t.state_at),
        cb.save_resume_state(Schedule(every=t.state_every, last=last)),
        cb.release_memory(Schedule(every=t.eval_every, last=last), recorder.schedule),
    ]


def _show(bar: tqdm, state: cb.TrainState) -> None:
    """Step, loss and error per split (the task's error: 1 - accuracy, CER, MSE, ...)."""
    if not state.last:
        return
    shown: dict[str, object] = {"step": state.step}
    for split, values in state.last.items():
        shown[f"{split}_loss"] = f"{values['loss']:.3g}"
        shown[f"{split}_error"] = f"{values['error']:.3g}"
    bar.set_postfix(shown, refresh=False)
