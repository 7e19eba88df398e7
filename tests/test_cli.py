"""The command line: every subcommand, and bad input as one line and a non-zero exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from specdyn.cli.main import main
from specdyn.store import layout


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_tasks_lists_presets_and_keys(capsys):
    code, out, _ = run_cli(capsys, "tasks")
    assert code == 0
    for text in (
        "grokking",
        "cpu (default)",
        "paper-grok",
        "paper-slingshot",
        "tiny",
        "data.modulus = 59",
        "optim.weight_decay = 1.0",
        "record.every = 25",
    ):
        assert text in out


def test_run_show_plot_compare(tmp_path, capsys):
    code, out, _ = run_cli(
        capsys,
        "run",
        "grokking",
        "--preset",
        "tiny",
        "--seed",
        "1",
        "--set",
        "steps=10",
        "--out",
        str(tmp_path),
        "--no-progress",
    )
    assert code == 0
    run_dir = tmp_path / out.strip().split("/")[-1]
    assert (run_dir / layout.CONFIG).exists()
    code, out, _ = run_cli(capsys, "show", str(run_dir))
    assert code == 0 and "mlp.fc_in" in out and "norm_eff_rank" in out and "val" in out
    code, out, _ = run_cli(capsys, "plot", str(run_dir))
    pngs = [line for line in out.split() if line.endswith(".png")]
    assert code == 0 and len(pngs) == 11  # 7 panels, 4 against random (figures.reference)
    assert all(Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    target = tmp_path / "fig2.png"
    code, out, _ = run_cli(capsys, "compare", str(run_dir), str(run_dir), "--out", str(target))
    assert code == 0 and target.stat().st_size > 10_000


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "nope"], "unknown task 'nope'"),
        (["run", "grokking", "--preset", "huge"], "unknown preset 'huge'"),
        (["run", "grokking", "--set", "colour=red"], "unknown key 'colour'"),
        (["run", "grokking", "--set", "modulus=abc"], "bad value 'abc' for 'data.modulus'"),
        (["run", "grokking", "--set", "steps=1.5"], "bad value '1.5' for 'train.steps'"),
        (["run", "grokking", "--set", "modulus"], "expects key=value"),
        (["run", "grokking", "--device", "cuda:0"], "CUDA is not available"),
        (["show", "/nonexistent/run"], "is not a specdyn run"),
        (["plot", "/nonexistent/run"], "is not a specdyn run"),
        (["tasks", "nope"], "unknown task 'nope'"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(capsys, argv, message):
    if "cuda" in " ".join(argv):
        import torch

        if torch.cuda.is_available():
            pytest.skip("CUDA is available here")
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and err.startswith("specdyn: error: ")


def test_the_installed_command_exits_non_zero_without_a_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "specdyn.cli.main", "show", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        == f"specdyn: error: '{tmp_path}' is not a specdyn run (no config.json)"
    )


def test_out_that_is_a_file_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run_cli(capsys, "run", "grokking", "--preset", "tiny", "--out", str(blocker))
    assert code == 2 and err.startswith("specdyn: error: ") and err.count("\n") == 1


def test_nan_weights_stop_the_run_with_the_matrix_named(tmp_path, monkeypatch, capsys):
    import dataclasses

    import torch

    from specdyn.tasks import TASKS

    task = TASKS["grokking"]

    def poisoned(cfg, device):
        exp = task.build(cfg, device)
        with torch.no_grad():
            exp.model.mlp.fc_in.weight[0, 0] = float("nan")
        return exp

    monkeypatch.setitem(TASKS, "grokking", dataclasses.replace(task, build=poisoned))
    code, _, err = run_cli(
        capsys, "run", "grokking", "--preset", "tiny", "--out", str(tmp_path), "--no-progress"
    )
    assert code == 2
    assert "matrix 'mlp.fc_in'" in err and "NaN or Inf" in err
