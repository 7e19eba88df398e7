"""Bad input to the CLI: one `specdyn: error:` line, exit 2, no traceback, nothing written.

Each case is a command line as a new user would type it ({run}: a copy of a finished tiny
run, broken first by ``BREAKS`` when the case names a break; {tmp}: the test's folder, which
is also the working directory). After the command, every file under {tmp} must be as it was:
no new file or folder, and the run's own files untouched. docs/reliability.md lists them.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from specdyn.cli.main import main
from specdyn.store import layout

TINY = ["--preset", "tiny", "--no-progress", "--out", "{tmp}/runs"]
GROK = ["run", "grokking", *TINY]
SWEEP = ["sweep", "grokking", "--preset", "tiny", "--out", "{tmp}/sweeps"]
LOTTERY = ["lottery", "{run}", "--mask", "magnitude"]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _spectra(run: Path) -> Path:
    return layout.step_files(run / layout.SPECTRA)[-1]


BREAKS: dict[str, Callable[[Path], object]] = {
    "config-list": lambda run: (run / layout.CONFIG).write_text("[1, 2]"),
    "config-invalid": lambda run: (run / layout.CONFIG).write_text('{"task": '),
    "config-binary": lambda run: (run / layout.CONFIG).write_bytes(b"\xff\xfe\x00garbage"),
    "metrics-truncated": lambda run: _truncate(run / layout.METRICS),
    "history-garbage": lambda run: (run / layout.HISTORY).write_bytes(b"not parquet"),
    "spectra-gone": lambda run: shutil.rmtree(run / layout.SPECTRA),
    "spectra-truncated": lambda run: _truncate(_spectra(run)),
    "artifacts-garbage": lambda run: (run / layout.ARTIFACTS).write_bytes(b"\x08" + b"\x00" * 7),
}

# (id, argv, a fragment of the one error line, break applied to {run} or "")
CASES: list[tuple[str, list[str], str, str]] = [
    ("unknown task", ["run", "nosuch"], "unknown task 'nosuch'", ""),
    ("unknown preset", ["run", "grokking", "--preset", "huge"], "unknown preset 'huge'", ""),
    ("unknown key", [*GROK, "--set", "nosuch=1"], "unknown key 'nosuch'", ""),
    ("--set without =", [*GROK, "--set", "steps"], "expects key=value", ""),
    ("value of the wrong type", [*GROK, "--set", "steps=abc"], "bad value 'abc'", ""),
    ("steps=-5", [*GROK, "--set", "steps=-5"], "train.steps=-5", ""),
    ("steps=0", [*GROK, "--set", "steps=0"], "train.steps=0", ""),
    ("every=-1", [*GROK, "--set", "every=-1"], "record.every=-1", ""),
    ("every=0", [*GROK, "--set", "every=0"], "record.every=0", ""),
    ("eval_every=0", [*GROK, "--set", "eval_every=0"], "train.eval_every=0", ""),
    ("lr=nan", [*GROK, "--set", "lr=nan"], "optim.lr=nan", ""),
    ("lr=-1", [*GROK, "--set", "lr=-1"], "optim.lr=-1.0", ""),
    ("lr=inf", [*GROK, "--set", "lr=inf"], "optim.lr=inf", ""),
    ("weight_decay<0", [*GROK, "--set", "weight_decay=-0.1"], "optim.weight_decay", ""),
    ("betas>1", [*GROK, "--set", "betas=0.9,1.5"], "optim.betas=0.9,1.5", ""),
    ("modulus=0", [*GROK, "--set", "modulus=0"], "data.modulus=0", ""),
    ("train_fraction=0", [*GROK, "--set", "train_fraction=0"], "data.train_fraction=0.0", ""),
    ("train_fraction=1.5", [*GROK, "--set", "train_fraction=1.5"], "train_fraction=1.5", ""),
    ("vector_dtype=foo", [*GROK, "--set", "vector_dtype=foo"], "record.vector_dtype='foo'", ""),
    ("vector_dtype=int8", [*GROK, "--set", "vector_dtype=int8"], "vector_dtype='int8'", ""),
    ("top_k=0", [*GROK, "--set", "top_k=0"], "record.top_k=0", ""),
    ("top_k=-3", [*GROK, "--set", "top_k=-3"], "record.top_k=-3", ""),
    ("d_model=15, 2 heads", [*GROK, "--set", "d_model=15"], "model.d_model=15", ""),
    ("record.at after the end", [*GROK, "--set", "at=100"], "record.at=100", ""),
    ("seed=-1", [*GROK, "--seed", "-1"], "seed=-1", ""),
    ("--seed abc", [*GROK, "--seed", "abc"], "invalid int value: 'abc'", ""),
    ("--device meta", [*GROK, "--device", "meta"], "unknown device 'meta'", ""),
    ("--device foo", [*GROK, "--device", "foo"], "unknown device 'foo'", ""),
    ("--device cuda:99", [*GROK, "--device", "cuda:99"], "device 'cuda:99' asked for", ""),
    ("--out is a file", ["run", "grokking", *TINY[:3], "--out", "{tmp}/afile"], "afile", ""),
    ("--data-dir, no data", [*GROK, "--data-dir", "{tmp}"], "not read by task 'grokking'", ""),
    (
        "--data-dir, synthetic",
        ["run", "mlp-cifar10", *TINY, "--data-dir", "{tmp}/nothing"],
        "data.source='synthetic'",
        "",
    ),
    (
        "--data-dir, stand-in",
        ["run", "mlp-cifar10", "--no-progress", "--out", "{tmp}/runs", "--data-dir", "{tmp}"],
        "data.source='standin'",
        "",
    ),
    (
        "--data-dir of garbage",
        ["run", "mlp-cifar10", *TINY, "--set", "source=real", "--data-dir", "{tmp}"],
        "CIFAR-10",
        "",
    ),
    ("MLP input width", ["run", "mlp-cifar10", *TINY, "--set", "widths=100,10"], "3072", ""),
    ("VGG classes", ["run", "vgg16-cifar10", *TINY, "--set", "num_classes=1"], "num_classes", ""),
    (
        "milestones after a shortened run",
        ["run", "vgg16-cifar10", *TINY, "--set", "steps=10"],
        "optim.milestones",
        "",
    ),
    (
        "micro_batch not dividing",
        ["run", "transformer-wikitext103", *TINY, "--set", "micro_batch=3"],
        "data.micro_batch=3",
        "",
    ),
    ("beta_high=2", ["run", "unet-mnist", *TINY, "--set", "beta_high=2"], "data.beta_high", ""),
    ("show: no such folder", ["show", "{tmp}/nothing"], "is not a specdyn run", ""),
    ("show: a file", ["show", "{tmp}/afile"], "is not a specdyn run", ""),
    ("show: an empty folder", ["show", "{tmp}/empty"], "is not a specdyn run", ""),
    ("show: config.json a list", ["show", "{run}"], "holds a list, not an object", "config-list"),
    ("show: config.json cut", ["show", "{run}"], "is not valid JSON", "config-invalid"),
    ("show: config.json binary", ["show", "{run}"], "is not valid JSON", "config-binary"),
    ("show: metrics cut", ["show", "{run}"], "metrics.parquet", "metrics-truncated"),
    ("show: history garbage", ["show", "{run}"], "history.parquet", "history-garbage"),
    ("plot: no such folder", ["plot", "{tmp}/nothing"], "is not a specdyn run", ""),
    ("plot: spectra/ gone", ["plot", "{run}"], "spectra", "spectra-gone"),
    ("plot: spectra file cut", ["plot", "{run}"], "step_00000020", "spectra-truncated"),
    ("plot: artifacts garbage", ["plot", "{run}"], "artifacts", "artifacts-garbage"),
    ("plot: --out is a file", ["plot", "{run}", "--out", "{tmp}/afile"], "afile", ""),
    ("compare: no run", ["compare"], "the following arguments are required", ""),
    ("compare: no such folder", ["compare", "{tmp}/nothing"], "is not a specdyn run", ""),
    ("compare: labels", ["compare", "{run}", "{run}", "--labels", "a"], "1 labels for 2", ""),
    ("compare: --out in a file", ["compare", "{run}", "--out", "{tmp}/afile/x.png"], "afile", ""),
    ("compare: a broken run", ["compare", "{run}"], "spectra", "spectra-gone"),
    ("report: no such folder", ["report", "{tmp}/nothing"], "is not a run or sweep", ""),
    ("report: an empty folder", ["report", "{tmp}/empty"], "is not a run or sweep", ""),
    ("report: --out in a file", ["report", "{run}", "--out", "{tmp}/afile/r.html"], "afile", ""),
    ("sweep: unknown grid key", [*SWEEP, "--grid", "nosuch=1,2"], "unknown key 'nosuch'", ""),
    ("sweep: empty grid", [*SWEEP, "--grid", "steps="], "has no values", ""),
    ("sweep: value of the wrong type", [*SWEEP, "--grid", "steps=a,b"], "bad value 'a'", ""),
    ("sweep: duplicate seeds", [*SWEEP, "--grid", "steps=5,6", "--seeds", "0,0"], "duplicate", ""),
    ("reproduce: unknown figure", ["reproduce", "99"], "no reproduce target for figure", ""),
    ("analyze: no weights", ["analyze", "{tmp}/empty", "--out", "{tmp}/a"], "holds no weights", ""),
    ("analyze: not a checkpoint", ["analyze", "{tmp}/afile", "--out", "{tmp}/a"], "neither", ""),
    ("prune: not a run", ["prune", "{tmp}/nothing"], "is not a specdyn run", ""),
    ("prune: fraction 1.5", ["prune", "{run}", "--fraction", "1.5"], "fraction must lie", ""),
    ("lottery: density 0", [*LOTTERY, "--density", "0"], "density must lie in (0, 1]", ""),
    ("lottery: rewind after the end", [*LOTTERY, "--rewind-step", "99999"], "not before", ""),
    ("lottery: unknown mask", ["lottery", "{run}", "--mask", "other"], "invalid choice", ""),
    ("lmc: eta < 0", ["lmc", "grokking", *TINY, "--perturb", "-1"], "eta must be >= 0", ""),
]


def _snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` -> a digest of its content ("dir" for folders)."""
    return {
        str(p.relative_to(root)): "dir"
        if p.is_dir()
        else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
    }


@pytest.mark.parametrize(
    ("argv", "fragment", "broken"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    tiny_run, tmp_path, monkeypatch, capsys, argv, fragment, broken
):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    if broken:
        BREAKS[broken](run)
    (tmp_path / "afile").write_text("a file, not a folder\n")
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)
    argv = [a.replace("{run}", str(run)).replace("{tmp}", str(tmp_path)) for a in argv]
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse's own exit
        code = exit.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("specdyn: error: "), err
    assert fragment in err
    assert "Traceback" not in err
    assert _snapshot(tmp_path) == before, "a bad input left files behind or changed some"


def test_there_are_at_least_30_distinct_cases():
    assert len({c[0] for c in CASES}) == len(CASES) >= 30
    commands = {"run", "show", "plot", "compare", "report", "sweep", "reproduce", "analyze"}
    assert {c[1][0] for c in CASES} >= commands | {"prune", "lottery", "lmc"}
