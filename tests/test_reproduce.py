"""specdyn reproduce end to end on tiny presets: runs, figure, claims table; a second
figure on the same grid reuses the runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from specdyn.cli.main import main
from specdyn.reproduce.figure_targets import TARGETS, get_target
from specdyn.reproduce.scales import weight_decays
from specdyn.sweep.spec import sweep_name
from specdyn.tasks import get_preset
from specdyn.tasks.registry import TASKS


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    args = ["--task", "grokking", "--scale", "tiny", "--seeds", "0", "--out", str(out)]
    code = main(["reproduce", "14", *args, "--no-progress"])
    return out, args, code


def test_figure_claims_and_runs_are_written(reproduced):
    out, _, code = reproduced
    (sweep,) = (out / "sweeps").iterdir()
    report = json.loads((out / "figure-14" / "grokking-claims.json").read_text())
    assert code == (0 if report["passed"] else 1)
    assert report["failed_points"] == 0 and report["figure"] == "14"
    assert (out / "figure-14" / "grokking.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list(sweep.glob("grokking-tiny-*"))) == len(weight_decays("grokking"))
    ranks = next(c for c in report["claims"] if "effective rank" in c["statement"])
    values = list(ranks["numbers"]["final_mean_rank"].values())
    assert ranks["passed"] == all(b < a for a, b in zip(values, values[1:], strict=False))
    markdown = (out / "figure-14" / "grokking-claims.md").read_text()
    assert markdown.count("| PASS |") + markdown.count("| FAIL |") == len(report["claims"])


def test_another_figure_of_the_same_grid_reuses_the_runs(reproduced, capsys):
    out, args, _ = reproduced
    (sweep,) = (out / "sweeps").iterdir()
    before = json.loads((sweep / "sweep.json").read_text())["points"]
    main(["reproduce", "7", *args, "--no-progress"])
    assert json.loads((sweep / "sweep.json").read_text())["points"] == before
    assert (out / "figure-7" / "grokking.png").exists()
    assert "alignment" in capsys.readouterr().out


def test_a_run_another_figure_finished_is_copied_not_trained(reproduced, tmp_path):
    out, _, _ = reproduced
    shutil.copytree(out / "sweeps", tmp_path / "sweeps")  # Figure 14's runs, wd 0, 0.1, 1, 10
    (source,) = (tmp_path / "sweeps").iterdir()
    old = {p["run"]: p for p in json.loads((source / "sweep.json").read_text())["points"]}
    args = ["--task", "grokking", "--scale", "tiny", "--seeds", "0", "--out", str(tmp_path)]
    main(["reproduce", "2", *args, "--no-progress"])  # weight decay 0 and 1: both held
    (sweep,) = [p for p in (tmp_path / "sweeps").iterdir() if p != source]
    points = json.loads((sweep / "sweep.json").read_text())["points"]
    assert len(points) == 2 and all(p["state"] == "done" for p in points)
    for point in points:  # the source's times: nothing was trained again
        assert point["seconds"] == old[point["run"]]["seconds"]
        for name in ("config.json", "history.parquet", "agreement.safetensors"):
            copied = (sweep / point["run"] / name).read_bytes()
            assert copied == (source / point["run"] / name).read_bytes()
    assert (tmp_path / "figure-2" / "grokking-claims.json").exists()


def test_every_target_makes_a_valid_sweep_for_its_tasks_at_every_scale():
    for target in TARGETS.values():
        for task in target.allowed() or (*target.tasks, "grokking", "mlp-cifar10"):
            for scale in ("cpu", "paper"):
                spec = target.spec(task, scale, (0, 1, 2))
                assert spec.preset in TASKS[task].presets


def test_every_reproduced_sweep_keeps_its_folder_name():
    """Each (figure, task, scale)'s sweep folder, pinned when the scales were override
    strings: typed shrinks make the same configs, so the same runs are found again."""
    pinned = json.loads((Path(__file__).parent / "reproduce_sweep_names.json").read_text())
    found = {}
    for figure, target in TARGETS.items():
        for task in target.allowed() or TASKS:
            for scale in ("cpu", "paper", "tiny"):
                found[f"{figure} {task} {scale}"] = sweep_name(target.spec(task, scale, (0, 1, 2)))
    assert found == pinned


def test_the_cpu_scale_shrinks_each_task_and_keeps_the_rest():
    from specdyn.reproduce.scales import scaled_config

    for task in TASKS:
        cpu, shrunk = get_preset(task, "cpu"), scaled_config(task, "cpu")
        assert shrunk.train.steps <= cpu.train.steps
        assert (shrunk.task, shrunk.preset, shrunk.seed) == (cpu.task, cpu.preset, cpu.seed)
    vgg = scaled_config("vgg16-cifar10", "cpu")
    assert vgg.train.steps == 234 and vgg.optim.milestones == (117, 176, 222)


def test_unknown_figure_or_scale_is_one_line_exit_2(tmp_path, capsys):
    assert main(["reproduce", "1", "--out", str(tmp_path)]) == 2
    assert main(["reproduce", "6", "--task", "grokking", "--scale", "huge"]) == 2
    assert main(["reproduce", "8", "--task", "grokking", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("specdyn: error:") == 3
    assert get_target("figure-6") is TARGETS["6"]


def test_sweep_json_says_what_the_scale_changed(tmp_path):
    from specdyn.sweep.runner import plan

    _, _, manifest = plan(TARGETS["2"].spec("grokking", "cpu", (0, 1)), tmp_path)
    assert manifest["overrides"] == []
    assert manifest["changes"] == {
        "train.steps": 1200,
        "train.eval_every": 50,
        "train.state_every": 200,
        "record.every": 50,
    }
    _, _, tiny = plan(TARGETS["2"].spec("grokking", "tiny", (0, 1)), tmp_path)
    assert tiny["changes"] == {}
