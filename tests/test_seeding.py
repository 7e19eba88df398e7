"""The seeding policy (specdyn.config.seeding) holds for every task.

``seed`` changes the initialisation and, unless ``data_seed`` is set, the data order;
evaluation data and subsets stay fixed; grokking's split follows ``seed``.
"""

from __future__ import annotations

import pytest
import torch

from specdyn.config import apply_overrides, seeding
from specdyn.data.batches import batch_indices
from specdyn.tasks import TASKS, get_preset

CPU = torch.device("cpu")


def _build(task: str, *overrides: str):
    cfg = apply_overrides(get_preset(task, "tiny"), list(overrides))
    return TASKS[task].build(cfg, CPU)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    pairs = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    return all(torch.equal(p, q) for p, q in pairs)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_seed_and_data_seed_separate_initialisation_from_data_order(task):
    torch.manual_seed(123)  # the global state before a build does not matter
    base = _build(task)
    torch.manual_seed(456)
    again = _build(task)
    other_init = _build(task, "seed=1", "data_seed=0")  # different init, same order
    other_order = _build(task, "data_seed=5")  # same init, different order
    assert _same_weights(base.model, again.model)
    assert not _same_weights(base.model, other_init.model)
    assert _same_weights(base.model, other_order.model)
    with torch.no_grad():
        reference = base.loss(base.model, 1)
        assert torch.equal(other_init.loss(base.model, 1), reference)
        if task != "grokking":  # full batch: no order to change
            assert not torch.equal(other_order.loss(base.model, 1), reference)


@pytest.mark.parametrize("task", sorted(set(TASKS) - {"grokking"}))
def test_evaluation_data_is_the_same_for_every_seed(task):
    a, b = _build(task), _build(task, "seed=3")
    a.model.eval()
    assert a.evaluate(a.model) == b.evaluate(a.model)


def test_grokking_validation_split_follows_the_seed():
    a, b = _build("grokking"), _build("grokking", "seed=3")
    a.model.eval()
    assert a.evaluate(a.model) != b.evaluate(a.model)


def test_streams_are_reproducible_and_differ_where_the_policy_says():
    draw = lambda g: tuple(torch.rand(4, generator=g).tolist())  # noqa: E731
    assert draw(seeding.fixed_generator()) == draw(seeding.fixed_generator())
    batches = {draw(seeding.batch_generator(seed, epoch)) for seed in (0, 1) for epoch in (0, 1)}
    noise = {draw(seeding.train_noise_generator(seed, step)) for seed in (0, 1) for step in (0, 1)}
    assert len(batches) == 4 and len(noise) == 4
    assert draw(seeding.eval_noise_generator(0)) != draw(seeding.eval_noise_generator(1))
    epoch0 = [batch_indices(10, 5, step, order_seed=0) for step in (0, 1)]
    assert sorted(torch.cat(epoch0).tolist()) == list(range(10))  # an epoch sees each once


def test_the_documented_overlap_of_streams():
    """CPU generators keep the low 32 bits of a seed (see the seeding module's docstring)."""
    draw = lambda g: tuple(torch.rand(4, generator=g).tolist())  # noqa: E731
    for e in (0, 1):
        same = {
            draw(seeding.fixed_generator(e)),
            draw(seeding.batch_generator(0, e)),
            draw(seeding.train_noise_generator(0, e)),
            draw(seeding.eval_noise_generator(e)),
        }
        assert len(same) == 1
