"""The recorder in a plain PyTorch loop, as the README shows it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import specdyn
from specdyn import Pair, Recorder, Schedule


def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))


def train_plain(folder, steps=12, every=4):
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    recorder = Recorder(
        folder, Schedule(every=every, last=steps), pairs=[Pair("0", "2"), Pair("2", "4")], top_k=5
    )
    for step in range(steps + 1):
        recorder.step(step, model)
        if step == steps:
            break
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    recorder.finish()
    return model


def test_plain_loop_run_is_readable(tmp_path):
    model = train_plain(tmp_path)
    run = specdyn.open_run(tmp_path)
    assert run.config["recorder"]["pairs"] == ["0->2", "2->4"]
    assert run.steps.tolist() == [0, 4, 8, 12]
    assert run.matrices == ["0", "2", "4"]
    _, s = run.singular_values("2")
    expected = np.linalg.svd(model[2].weight.detach().double().numpy(), compute_uv=False)
    np.testing.assert_allclose(s[-1], expected, rtol=1e-5)
    steps, diag = run.alignment("0->2")
    assert diag.shape == (4, 5) and np.all((diag >= 0) & (diag <= 1 + 1e-6))
    U, V = run.vectors("4", 12)
    assert U.shape == (3, 3) and V.shape == (8, 3)


def test_alignment_is_computed_from_the_stored_vectors(tmp_path):
    train_plain(tmp_path)
    run = specdyn.open_run(tmp_path)
    U_prev, _ = run.vectors("0", 8)
    _, V_next = run.vectors("2", 8)
    expected = np.abs(U_prev.T.astype(np.float64) @ V_next.astype(np.float64)).diagonal()
    np.testing.assert_allclose(run.alignment("0->2")[1][2], expected, rtol=1e-5, atol=1e-6)
    score = run.metrics.query("step == 8 and matrix == '0->2' and metric == 'alignment'")
    np.testing.assert_allclose(score["value"].item(), expected[:10].mean(), rtol=1e-5)


def test_agreement_against_the_last_step(tmp_path):
    train_plain(tmp_path)
    run = specdyn.open_run(tmp_path)
    steps, diag = run.agreement("2")
    U0, V0 = run.vectors("2", 0)
    UT, VT = run.vectors("2", 12)
    expected = (np.abs(U0.T @ UT) * np.abs(V0.T @ VT)).diagonal()
    np.testing.assert_allclose(diag[0], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(diag[-1], 1.0, atol=1e-5)


def test_one_svd_call_per_shape_per_recorded_step(tmp_path, monkeypatch):
    calls = []
    real = torch.linalg.svd

    def counting(A, *args, **kwargs):
        calls.append(tuple(A.shape))
        return real(A, *args, **kwargs)

    monkeypatch.setattr(torch.linalg, "svd", counting)
    model = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 3))
    Recorder(tmp_path, schedule=1).record(0, model)
    assert sorted(calls) == [(1, 3, 8), (3, 8, 8)]  # three 8x8 matrices in one batched call


def test_unscheduled_steps_record_nothing(tmp_path):
    recorder = Recorder(tmp_path, Schedule(every=10))
    assert recorder.step(3, mlp()) is False
    assert specdyn.open_run(tmp_path).steps.tolist() == []


def test_nan_weights_raise_with_the_matrix_named(tmp_path):
    model = mlp()
    with torch.no_grad():
        model[2].weight[1, 1] = float("inf")
    with pytest.raises(specdyn.spectral.svd.NonFiniteMatrixError, match="matrix '2'"):
        Recorder(tmp_path).record(0, model)


def test_an_all_zero_matrix_records_nan_ranks_and_exact_norms(tmp_path):
    # A layer a lottery mask removed whole, or a zero-initialised one (LoRA's B), is recorded.
    model = mlp()
    with torch.no_grad():
        model[2].weight.zero_()
    recorder = Recorder(tmp_path, Schedule(at=(0,)), pairs=[Pair("0", "2")], top_k=5)
    recorder.record(0, model)
    recorder.finish()
    values = specdyn.open_run(tmp_path).metrics.query("matrix == '2'")
    by_metric = dict(zip(values["metric"], values["value"], strict=True))
    for metric in ("effective_rank", "normalized_effective_rank", "stable_rank"):
        assert np.isnan(by_metric[metric])
    assert by_metric["spectral_norm"] == 0.0 and by_metric["frobenius_norm"] == 0.0
    other = specdyn.open_run(tmp_path).metric_values("effective_rank")["0"]
    s = np.linalg.svd(model[0].weight.detach().double().numpy(), compute_uv=False)
    p = s / s.sum()
    assert other == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-6)


def test_the_store_names_the_recorders_scalar_metrics_in_order():
    """``layout.SCALAR_METRICS`` lets readers (the report) list them without importing torch."""
    from specdyn.record.recorder import SCALARS
    from specdyn.store import layout

    assert tuple(SCALARS) == layout.SCALAR_METRICS


def test_show_and_plot_of_a_plain_loop_run_say_what_made_it(tmp_path):
    """No ``task: None`` line, and the loss panels say why they are empty (the Recorder
    records spectra, not losses)."""
    from specdyn.cli.show_cmd import summary
    from specdyn.figures.panels import no_history

    train_plain(tmp_path)
    run = specdyn.open_run(tmp_path)
    text = summary(run)
    assert "None" not in text
    assert "source:   a Recorder in a training loop" in text
    assert "matrices: 3 (0, 2, 4)" in text and "steps:    4 recorded (0, 4, 8, 12)" in text
    assert "the Recorder records spectra" in no_history(run)
