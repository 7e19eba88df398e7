"""``specdyn analyze``: checkpoints to a run folder; resumable; bad input is one line, exit 2."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from specdyn.checkpoints.analyze import AnalyzeOptions, analyze
from specdyn.cli.main import main
from specdyn.store import layout
from specdyn.store.reader import open_run


def _mlp_state(seed: int, widths=(6, 8, 5, 3)) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    state = {}
    for i, (a, b) in enumerate(zip(widths, widths[1:], strict=False)):
        state[f"layers.{i}.weight"] = torch.randn(b, a)
        state[f"layers.{i}.bias"] = torch.randn(b)
    return state


def _series(folder: Path, steps=(10, 20, 30), **kw) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for step in steps:
        save_file(_mlp_state(step, **kw), folder / f"step_{step}.safetensors")
    return folder


def _error(capsys, *argv: str) -> str:
    assert main(["analyze", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("specdyn: error: ") and err.count("\n") == 1, err
    return err


def test_series_becomes_a_run_that_show_reads(tmp_path, capsys):
    ckpts = _series(tmp_path / "ckpts")
    out = tmp_path / "run"
    assert main(["analyze", str(ckpts), "--out", str(out), "--top-k", "4"]) == 0
    text = capsys.readouterr().out
    assert "pairs: 2 (stack layout)" in text and "norm_eff_rank" in text
    run = open_run(out)
    assert list(run.steps) == [10, 20, 30]
    assert run.matrices == ["layers.0", "layers.1", "layers.2"]
    assert run.pairs == ["layers.0->layers.1", "layers.1->layers.2"]
    steps, s = run.singular_values("layers.1")
    W = _mlp_state(20)["layers.1.weight"].double().numpy()
    assert np.allclose(s[1], np.linalg.svd(W, compute_uv=False), atol=1e-5)
    steps, diag = run.agreement("layers.0")
    assert list(steps) == [10, 20, 30] and np.allclose(diag[-1], 1.0, atol=1e-5)


def test_rerun_skips_checkpoints_already_analysed(tmp_path):
    ckpts = _series(tmp_path / "ckpts", steps=(10, 20))
    out = tmp_path / "run"
    logged: list[str] = []
    analyze([ckpts], out, options=AnalyzeOptions(top_k=3))
    before = open_run(out).metrics
    save_file(_mlp_state(30), ckpts / "step_30.safetensors")
    analyze([ckpts], out, options=AnalyzeOptions(top_k=3), log=logged.append)
    assert [line for line in logged if line.startswith("step")] == [
        f"step 30: {ckpts / 'step_30.safetensors'}"
    ]
    run = open_run(out)
    assert list(run.steps) == [10, 20, 30]
    old = before[before["metric"] == "spectral_norm"].reset_index(drop=True)
    new = run.metrics[(run.metrics["metric"] == "spectral_norm") & (run.metrics["step"] < 30)]
    assert np.array_equal(old["value"], new["value"])
    steps, diag = run.agreement("layers.2")  # against the new last checkpoint
    assert list(steps) == [10, 20, 30] and np.allclose(diag[-1], 1.0, atol=1e-5)
    with pytest.raises(Exception, match="other options"):
        analyze([ckpts], out, options=AnalyzeOptions(top_k=5))


def test_results_do_not_depend_on_the_thread_count(tmp_path):
    ckpts = _series(tmp_path / "ckpts", steps=(10, 20), widths=(40, 60, 30))
    before = torch.get_num_threads()
    runs = []
    try:
        for threads in (1, 3):
            torch.set_num_threads(threads)
            out = tmp_path / f"run{threads}"
            runs.append(open_run(analyze([ckpts], out, options=AnalyzeOptions(metrics="all"))))
            assert torch.get_num_threads() == threads  # restored after the analysis
    finally:
        torch.set_num_threads(before)
    a, b = runs
    assert a.metrics.equals(b.metrics)
    for name in a.matrices:
        assert np.array_equal(a.singular_values(name)[1], b.singular_values(name)[1])


def test_top_k_0_records_values_only(tmp_path, capsys):
    ckpts = _series(tmp_path / "ckpts", steps=(10, 20), widths=(40, 60, 30))
    full = open_run(analyze([ckpts], tmp_path / "full", options=AnalyzeOptions(4, metrics="all")))
    lean = open_run(analyze([ckpts], tmp_path / "lean", options=AnalyzeOptions(0, metrics="all")))
    assert lean.matrices == full.matrices and lean.pairs == [] and lean.step_vectors(20) == {}
    for name in full.matrices:
        assert np.allclose(lean.singular_values(name)[1], full.singular_values(name)[1], rtol=1e-6)
    single = full.metrics[~full.metrics["metric"].isin(["alignment", "agreement"])]
    cols = ["step", "matrix", "metric"]
    a, b = (m.sort_values(cols).reset_index(drop=True) for m in (single, lean.metrics))
    assert a[cols].equals(b[cols]) and np.allclose(a["value"], b["value"], rtol=1e-6)
    assert "keeps none" in _error(capsys, str(ckpts), "--top-k", "0", "--pairs", "p.json")


def test_specdyn_run_checkpoints_reproduce_the_recorded_spectra(tiny_run, tmp_path):
    out = analyze([tiny_run], tmp_path / "again", options=AnalyzeOptions(top_k=5, pairs="none"))
    trained, again = open_run(tiny_run), open_run(out)
    # names as training records them; a 2-D buffer (fixed positions) is a tensor like any other
    assert set(again.matrices) - set(trained.matrices) == {"pos"}
    last = int(trained.steps[-1])
    assert list(again.steps) == [last]
    for name in trained.matrices:
        _, s_trained = trained.singular_values(name)
        _, s_again = again.singular_values(name)
        assert np.allclose(s_again[-1], s_trained[-1], atol=1e-5), name


def test_metrics_all_records_diagnostics_and_show_reports_them(tmp_path, capsys):
    ckpts = _series(tmp_path / "ckpts", steps=(1, 2), widths=(40, 30, 20))
    out = tmp_path / "run"
    assert main(["analyze", str(ckpts), "--out", str(out), "--metrics", "all"]) == 0
    metrics = open_run(out).metrics
    for metric in ("alpha", "alpha_weighted", "log_spectral_norm", "mp_outliers", "rand_distance"):
        assert set(metrics.loc[metrics["metric"] == metric, "matrix"]) == {"layers.0", "layers.1"}
    capsys.readouterr()
    assert main(["show", str(out)]) == 0
    text = capsys.readouterr().out
    assert "alpha" in text and "per-model summary" in text


# ------------------------------------------------------------------------- bad input


class _Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("touch pwned-by-pickle",))


def test_pickle_needing_code_is_refused_and_never_run(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"fc.weight": _Exploit()}, f, protocol=2)
    err = _error(capsys, str(tmp_path / "evil.pt"), "--out", str(tmp_path / "run"))
    assert "needs code execution" in err
    assert not (tmp_path / "pwned-by-pickle").exists() and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([torch.ones(2, 2)], "not a mapping of names to tensors"),
        ({"step": 3, "lr": 0.1}, "not a mapping of names to tensors"),
    ],
)
def test_state_dict_that_is_not_tensors(tmp_path, capsys, payload, message):
    torch.save(payload, tmp_path / "bad.pt")
    assert message in _error(capsys, str(tmp_path / "bad.pt"), "--out", str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_truncated_safetensors(tmp_path, capsys):
    ckpts = _series(tmp_path / "ckpts", steps=(1, 2))
    data = (ckpts / "step_2.safetensors").read_bytes()
    (ckpts / "step_2.safetensors").write_bytes(data[: len(data) - 40])
    err = _error(capsys, str(ckpts), "--out", str(tmp_path / "run"))
    assert "step_2.safetensors" in err
    assert not (tmp_path / "run").exists()


def test_mixed_architectures_name_the_matrix(tmp_path, capsys):
    ckpts = _series(tmp_path / "ckpts", steps=(1,))
    save_file(_mlp_state(2, widths=(6, 9, 5, 3)), ckpts / "step_2.safetensors")
    err = _error(capsys, str(ckpts), "--out", str(tmp_path / "run"))
    assert "matrix 'layers.0' is 8x6" in err and "9x6" in err
    assert not (tmp_path / "run").exists()


def test_duplicate_steps_empty_folder_and_bad_steps(tmp_path, capsys):
    _series(tmp_path / "a", steps=(5,))
    _series(tmp_path / "b", steps=(5,))
    assert "both step 5" in _error(capsys, str(tmp_path / "a"), str(tmp_path / "b"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no weights here")
    assert "holds no weights" in _error(capsys, str(tmp_path / "empty"))
    assert "does not exist" in _error(capsys, str(tmp_path / "nowhere"))
    assert "--steps gives 2 steps" in _error(capsys, str(tmp_path / "a"), "--steps", "1,2")


def test_nan_weights_name_matrix_and_checkpoint(tmp_path, capsys):
    ckpts = _series(tmp_path / "ckpts", steps=(1,))
    state = _mlp_state(2)
    state["layers.1.weight"][0, 0] = float("nan")
    save_file(state, ckpts / "step_2.safetensors")
    err = _error(capsys, str(ckpts), "--out", str(tmp_path / "run"))
    assert "matrix 'layers.1'" in err and "step_2.safetensors" in err and "NaN" in err
    assert not (tmp_path / "run").exists()


def test_pairs_file(tmp_path, capsys):
    ckpts = _series(tmp_path / "ckpts", steps=(1,))
    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps([["layers.0", "layers.1"], {"prev": "layers.1", "next": "x"}]))
    assert "names matrix 'x'" in _error(capsys, str(ckpts), "--pairs", str(pairs))
    pairs.write_text(json.dumps([["layers.0", "layers.1"]]))
    out = tmp_path / "run"
    assert main(["analyze", str(ckpts), "--pairs", str(pairs), "--out", str(out)]) == 0
    assert open_run(out).pairs == ["layers.0->layers.1"]
    assert (out / layout.AGREEMENT).exists()


def test_plot_of_an_analysis_without_pairs_draws_notes_not_an_error(tmp_path, capsys):
    """A checkpoint analysis has no history and, with --pairs none, no alignment: `plot`
    still draws the panels it can and says in the others why they are empty."""
    out = tmp_path / "run"
    assert (
        main(["analyze", str(_series(tmp_path / "ckpts")), "--out", str(out), "--pairs", "none"])
        == 0
    )
    assert main(["plot", str(out)]) == 0
    names = {p.name for p in (out / layout.FIGURES).glob("*.png")}
    assert {"error.png", "alignment.png", "singular_values.png", "figure.png"} <= names
