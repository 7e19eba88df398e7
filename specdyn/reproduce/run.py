"""``reproduce``: run what a figure needs (reusing finished runs), draw it, check its claims.

Layout under ``out`` (default ``reproduce/``)::

  sweeps/sweep-TASK-PRESET-HASH/     the runs; a finished run another figure's sweep holds
                                     is copied from there (reproduce.reuse), not re-run;
                                     experiments on checkpoints add RUN/analyses/,
                                     RUN/branches/ and the sweep's analyses/lmc/
  figure-N/TASK.png                  the figure
  figure-N/TASK-claims.md, .json     the paper's claims, the numbers measured, PASS/FAIL
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from specdyn.reproduce.claims import Claim
from specdyn.reproduce.reuse import reuse_finished
from specdyn.reproduce.targets import Target
from specdyn.store.atomic import write_atomic, write_json
from specdyn.sweep.backends import Execution
from specdyn.sweep.results import open_sweep
from specdyn.sweep.runner import run_sweep


@dataclass(frozen=True)
class Report:
    """One (figure, task): the sweep it used, its figure, its claims and the wall time."""

    figure: str
    task: str
    scale: str
    sweep: Path
    image: Path
    claims: list[Claim]
    failed_points: int
    seconds: float

    @property
    def passed(self) -> bool:
        return self.failed_points == 0 and all(claim.passed for claim in self.claims)


def reproduce_one(
    target: Target,
    task: str,
    scale: str,
    seeds: tuple[int, ...],
    out: Path,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    device: str = "auto",
    progress: bool = True,
    threads: int | None = None,
) -> Report:
    start = time.perf_counter()
    spec = replace(target.spec(task, scale, seeds, backend, workers, address), threads=threads)
    reuse_finished(spec, out / "sweeps")
    result = run_sweep(spec, out / "sweeps", progress=progress, device=device)
    sweep = open_sweep(result.path)
    execution = Execution(backend, workers, address, device, threads, progress)
    failed = len(result.failed) + target.after_sweep(sweep, scale, execution)
    folder = out / f"figure-{target.figure}"
    image = folder / f"{task}.png"
    try:
        target.draw(sweep, target.figure, image)
        claims = [check(sweep) for check in target.claims]
    except (ValueError, KeyError, IndexError, StopIteration) as err:  # too few finished runs
        claims = [Claim("the figure can be drawn", f"it cannot: {err!r}", False)]
    report = Report(
        target.figure, task, scale, result.path, image, claims, failed,
        time.perf_counter() - start,
    )  # fmt: skip
    write_report(report, folder / f"{task}-claims")
    return report


def write_report(report: Report, stem: Path) -> None:
    data = asdict(report) | {"sweep": str(report.sweep), "image": str(report.image)}
    data["passed"] = report.passed
    write_json(stem.with_suffix(".json"), data)
    text = "\n".join(markdown(report)) + "\n"
    write_atomic(stem.with_suffix(".md"), lambda p: p.write_text(text))


def markdown(report: Report) -> list[str]:
    lines = [
        f"# Figure {report.figure}: {report.task} ({report.scale} scale)",
        "",
        f"Sweep: `{report.sweep}`; figure: `{report.image.name}`; "
        f"{report.seconds:.0f} s wall (runs reused from earlier calls are not re-run).",
        "",
        "| paper's claim | measured here | against random data | verdict |",
        "|---|---|---|---|",
    ]
    for claim in report.claims:
        verdict = "PASS" if claim.passed else "FAIL"
        against = claim.random or "-"
        lines.append(f"| {claim.statement} | {claim.measured} | {against} | {verdict} |")
    if report.failed_points:
        lines += ["", f"{report.failed_points} points failed: the verdict is FAIL."]
    return lines
