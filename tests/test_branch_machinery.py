"""Machinery of the experiments on checkpoints, on cases small enough to check by hand:
which weights are targets, lottery masks, interpolation, BatchNorm statistics, the barrier
of Eq. 6 and the perturbation of Appendix A.10."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from specdyn.analyses.barrier import ALPHAS, barrier
from specdyn.analyses.interpolate import interpolate_states, recompute_norm_stats
from specdyn.analyses.masks import (
    apply_masks,
    densities,
    magnitude_masks,
    mask_gradients,
    random_masks,
)
from specdyn.analyses.perturb import perturb, perturb_model
from specdyn.analyses.runs import build, evaluate_state
from specdyn.analyses.weights import inner_weights, output_layer, perturbed_weights, weights
from specdyn.config.schema import RunConfig
from specdyn.errors import ConfigError
from specdyn.tasks.registry import TASKS, get_preset, get_task

# ------------------------------------------------------------------------------ targets


@pytest.mark.parametrize(
    ("task", "last"),
    [
        ("grokking", "unembed"),
        ("vgg16-cifar10", "fc"),
        ("mlp-cifar10", "layers.3"),
        ("lstm-librispeech", "fc"),
        ("transformer-wikitext103", "unembed"),
        ("unet-mnist", "tconv1"),
    ],
)
def test_output_layer_of_every_task(task, last):
    cfg: RunConfig = TASKS[task].presets["tiny"]
    model = _model_only(cfg)
    assert output_layer(model).name == last
    assert last not in [w.name for w in inner_weights(model)]
    excluded = {"transformer-wikitext103": {"embed"}}.get(task, set())
    assert {w.name for w in inner_weights(model)} - {
        w.name for w in perturbed_weights(model, task)
    } == excluded


def _model_only(cfg: RunConfig) -> nn.Module:
    return TASKS[cfg.task].build(cfg, torch.device("cpu")).model


def test_matrix_view_round_trips_for_transposed_convolutions():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ConvTranspose2d(4, 5, 3), nn.Linear(2, 2))
    found = weights(model)
    assert [(w.name, w.transposed) for w in found] == [("0", False), ("1", True), ("2", False)]
    W = model[1].weight.detach()  # (c_in 4, c_out 5, 3, 3)
    M = found[1].matrix(W)
    assert M.shape == (5, 36)
    assert torch.equal(found[1].unmatrix(M, tuple(W.shape)), W)


# -------------------------------------------------------------------------------- masks


def test_global_magnitude_mask_by_hand():
    a = torch.tensor([[1.0, -8.0], [3.0, 0.5]])
    b = torch.tensor([[-7.0, 2.0, 6.0], [0.1, 0.2, 5.0]])
    masks = magnitude_masks({"a": a, "b": b}, density=0.4)  # 10 entries -> keep 4
    assert masks["a"].tolist() == [[False, True], [False, False]]  # |-8|
    assert masks["b"].tolist() == [[True, False, True], [False, False, True]]  # 7, 6, 5
    assert densities(masks) == {"a": 0.25, "b": 0.5}


def test_random_mask_keeps_per_layer_counts():
    g = torch.Generator().manual_seed(0)
    w = {"a": torch.randn(20, 30, generator=g), "b": torch.randn(50, 4, generator=g) * 1.5}
    masks = magnitude_masks(w, 0.1)
    assert sum(int(m.sum()) for m in masks.values()) == 80
    assert all(0 < int(m.sum()) < m.numel() for m in masks.values())
    rand = random_masks(masks, torch.Generator().manual_seed(1))
    for name in w:
        assert int(rand[name].sum()) == int(masks[name].sum())
        assert not torch.equal(rand[name], masks[name])


@pytest.mark.parametrize("density", [0.0, -0.1, 1.5, float("nan")])
def test_density_outside_the_interval_is_refused(density):
    with pytest.raises(ConfigError, match="density"):
        magnitude_masks({"a": torch.ones(2, 2)}, density)


def test_mask_survives_optimizer_steps_with_momentum_and_decay():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 2))
    masks = magnitude_masks({"0.weight": model[0].weight}, 0.3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1)
    opt.step()  # no-op; makes sure the masked run starts from a real optimizer
    apply_masks(model, masks)
    for _ in range(5):
        opt.zero_grad()
        model(torch.randn(8, 6)).square().mean().backward()
        mask_gradients(model, masks)
        assert torch.all(model[0].weight.grad[~masks["0.weight"]] == 0)
        opt.step()
        apply_masks(model, masks)
    kept = model[0].weight[masks["0.weight"]]
    assert torch.all(model[0].weight[~masks["0.weight"]] == 0) and torch.all(kept != 0)


# ------------------------------------------------------------------ interpolation, BN


def test_interpolate_states_lerps_floats_and_keeps_counters():
    a = {"w": torch.tensor([0.0, 2.0]), "n": torch.tensor(3)}
    b = {"w": torch.tensor([4.0, 2.0]), "n": torch.tensor(9)}
    out = interpolate_states(a, b, 0.25)
    assert out["w"].tolist() == [1.0, 2.0] and int(out["n"]) == 3
    with pytest.raises(ValueError, match="keys"):
        interpolate_states(a, {"w": b["w"]}, 0.5)


def test_batchnorm_statistics_are_recomputed_as_the_average_over_batches():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    batches = [torch.randn(16, 3) * (i + 1) + i for i in range(3)]
    before = model[1].running_mean.clone()
    assert recompute_norm_stats(model, lambda m, i: m(batches[i]), range(3))
    with torch.no_grad():
        hidden = [model[0](x) for x in batches]
    mean = torch.stack([h.mean(0) for h in hidden]).mean(0)
    var = torch.stack([h.var(0, unbiased=True) for h in hidden]).mean(0)
    torch.testing.assert_close(model[1].running_mean, mean)
    torch.testing.assert_close(model[1].running_var, var)
    assert not torch.allclose(before, model[1].running_mean)
    assert model[1].momentum == 0.1 and not model.training
    assert not recompute_norm_stats(nn.Linear(2, 2), lambda m, i: None, range(3))


def test_evaluation_build_is_channels_last_and_agrees_with_the_training_layout():
    cfg = get_preset("vgg16-cifar10", "tiny")
    trained = get_task(cfg.task).build(cfg, torch.device("cpu"))
    exp = build(cfg, torch.device("cpu"))
    state = {k: v + 0.01 * torch.randn_like(v) if v.is_floating_point() else v
             for k, v in trained.model.state_dict().items()}  # fmt: skip
    trained.model.load_state_dict(state)
    result = evaluate_state(exp, cfg, state, recompute=True, norm_batches=2)
    conv = next(m.weight for m in exp.model.modules() if isinstance(m, nn.Conv2d))
    assert conv.is_contiguous(memory_format=torch.channels_last)  # kept by load_state_dict
    recompute_norm_stats(trained.model, trained.loss, range(2))
    expected = trained.evaluate(trained.model)
    for split, values in expected.items():
        assert result[split]["loss"] == pytest.approx(values["loss"], rel=1e-4)
        assert result[split]["error"] == pytest.approx(values["error"], abs=1 / 64)


# ------------------------------------------------------------------------------ barrier


def test_barrier_is_zero_between_identical_endpoints():
    model = nn.Linear(3, 1)
    x = torch.randn(10, 3)
    state = model.state_dict()
    losses = []
    for alpha in ALPHAS:
        model.load_state_dict(interpolate_states(state, state, alpha))
        losses.append(model(x).square().mean().item())
    assert barrier(ALPHAS, losses) == 0.0


def test_barrier_of_a_one_dimensional_concave_quadratic():
    # L(w) = 1 - w^2 from w = -1 to w = 1: endpoints 0, peak 1 at alpha = 0.5.
    a, b = {"w": torch.tensor(-1.0)}, {"w": torch.tensor(1.0)}
    losses = [1 - float(interpolate_states(a, b, alpha)["w"]) ** 2 for alpha in ALPHAS]
    assert len(ALPHAS) == 11
    assert barrier(ALPHAS, losses) == pytest.approx(1.0, abs=1e-12)
    # A convex quadratic, L(w) = w^2: the straight line is above the curve, barrier 0.
    assert barrier(ALPHAS, [float(interpolate_states(a, b, t)["w"]) ** 2 for t in ALPHAS]) == 0


# ------------------------------------------------------------------------- perturbation


@pytest.mark.parametrize("eta", [0.0, 0.1, 0.25, 1.0, 2.5])
def test_perturbation_has_relative_norm_eta_and_keeps_the_norm(eta):
    rng = np.random.default_rng(int(eta * 100))
    W, G = rng.standard_normal((7, 5)), rng.standard_normal((7, 5))
    out = perturb(torch.from_numpy(W), eta, torch.from_numpy(G)).numpy()
    norm = np.linalg.norm(W)
    added = eta * norm * G / np.linalg.norm(G)
    assert np.linalg.norm(added) == pytest.approx(eta * norm)
    np.testing.assert_allclose(out, norm * (W + added) / np.linalg.norm(W + added), rtol=1e-12)
    assert np.linalg.norm(out) == pytest.approx(norm, rel=1e-12)
    # Before renormalisation: out * ||W + added|| / ||W|| - W is the noise, of norm eta||W||.
    before = out * np.linalg.norm(W + added) / norm
    assert np.linalg.norm(before - W) / norm == pytest.approx(eta, abs=1e-12)


def test_perturb_model_leaves_the_output_layer_alone():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    first, last = model[0].weight.clone(), model[1].weight.clone()
    perturb_model(model, inner_weights(model), 0.5, torch.Generator().manual_seed(0))
    assert torch.equal(model[1].weight, last) and not torch.equal(model[0].weight, first)
    torch.testing.assert_close(model[0].weight.norm(), first.norm())
    with pytest.raises(ConfigError, match="eta"):
        perturb(first, -0.1, first)


def test_the_barrier_table_carries_eq6_and_the_authors_interior_value():
    """Eq. 6 includes the endpoints (never below 0); the authors' compute_barrier takes the
    interior alphas only, so a path below the straight line gives a negative value."""
    from specdyn.analyses.barrier import interior_barrier
    from specdyn.analyses.lmc import barriers

    below = [0.0] + [-0.1] * 9 + [0.0]  # the path dips below the line everywhere inside
    assert barrier(ALPHAS, below) == 0.0
    assert interior_barrier(ALPHAS, below) == pytest.approx(-0.1)
    bump = [1 - (2 * a - 1) ** 2 for a in ALPHAS]  # interior maximum positive: both agree
    assert interior_barrier(ALPHAS, bump) == barrier(ALPHAS, bump) == pytest.approx(1.0)
    pairs = zip(ALPHAS, below, strict=True)
    curve = [{"alpha": a, "split": "val", "loss": v, "error": 0.5} for a, v in pairs]
    rows = {r["metric"]: r for r in barriers(curve)}
    assert rows["loss"]["value"] == 0.0 and rows["loss"]["interior"] == pytest.approx(-0.1)
    assert rows["error"]["value"] == rows["error"]["interior"] == 0.0
