"""Schedule: every N steps, explicit steps, log-spaced steps, and the final step."""

from __future__ import annotations

import numpy as np
import pytest

from specdyn.record.schedule import Schedule


def test_every():
    schedule = Schedule(every=5)
    assert schedule.steps(20) == [0, 5, 10, 15, 20]
    assert schedule.steps(22) == [0, 5, 10, 15, 20]
    assert 0 in schedule and 35 in schedule
    assert 3 not in schedule


def test_every_one_is_every_step():
    assert Schedule(every=1).steps(4) == [0, 1, 2, 3, 4]


def test_at():
    schedule = Schedule(at=(7, 3, 100))
    assert schedule.steps(10) == [3, 7]
    assert schedule.steps(100) == [3, 7, 100]
    assert 0 not in schedule


def test_empty_schedule():
    assert Schedule().steps(50) == []
    assert 0 not in Schedule()


@pytest.mark.parametrize("last", [7, 20, 1000, 40_000])
def test_last_always_included(last):
    schedule = Schedule(every=3, last=last)
    assert last in schedule
    assert schedule.steps(last)[-1] == last
    assert Schedule(last=last).steps(last) == [last]


def test_union_of_rules():
    schedule = Schedule(every=10, at=(3, 15), last=27)
    assert schedule.steps(27) == [0, 3, 10, 15, 20, 27]


@pytest.mark.parametrize(("points", "last"), [(5, 1000), (10, 40_000), (20, 100), (3, 2)])
def test_log_points(points, last):
    schedule = Schedule(log_points=points, last=last)
    steps = schedule.steps(last)
    assert steps[:2] == [0, 1]
    assert steps[-1] == last
    assert steps == sorted(set(steps))
    # Only 0 plus the rounded geometric grid from 1 to last.
    expected = {0} | {round(x) for x in np.geomspace(1, last, points)}
    assert set(steps) == expected
    assert len(steps) <= points + 1


def test_log_points_are_log_spaced():
    steps = Schedule(log_points=5, last=10_000).steps(10_000)
    assert steps == [0, 1, 10, 100, 1000, 10_000]


def test_log_points_combine_with_every():
    schedule = Schedule(every=400, log_points=4, last=1000)
    assert schedule.steps(1000) == [0, 1, 10, 100, 400, 800, 1000]


def test_log_points_need_last():
    with pytest.raises(ValueError, match="last"):
        Schedule(log_points=5)


@pytest.mark.parametrize(
    "kwargs",
    [{"every": -1}, {"at": (3, -2)}, {"log_points": -1, "last": 10}],
    ids=["every", "at", "log_points"],
)
def test_negative_values_raise(kwargs):
    with pytest.raises(ValueError, match="non-negative"):
        Schedule(**kwargs)


def test_negative_last_raises():
    with pytest.raises(ValueError, match="non-negative"):
        Schedule(every=5, last=-1)


def test_schedule_is_frozen():
    schedule = Schedule(every=5)
    with pytest.raises(AttributeError):
        schedule.every = 3  # type: ignore[misc]
