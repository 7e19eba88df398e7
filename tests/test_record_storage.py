"""What the recorder keeps on disk: vectors thinned after the agreement at the finish,
float16 vectors, and the deferred write of the CUDA path (forced here on CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors import safe_open
from torch import nn

import specdyn
from specdyn import Pair, Recorder, Schedule
from specdyn.errors import RunStoreError
from specdyn.record.schedule import spread
from specdyn.spectral import decompose
from specdyn.store import layout


def test_spread_keeps_first_and_last_evenly():
    steps = list(range(0, 3001, 25))  # the grokking cpu schedule: 121 records
    kept = spread(steps, 20)
    assert len(kept) == 20 and kept[0] == 0 and kept[-1] == 3000
    assert set(kept) <= set(steps)
    gaps = np.diff(kept)
    assert gaps.min() >= 150 and gaps.max() <= 175  # every 6th or 7th record
    assert spread(steps, 0) == steps and spread(steps, 500) == steps
    assert spread([0, 5, 10], 1) == [10]


def _train(folder, steps: int = 20, **options) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(24, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 5)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.randn(64, 24), torch.randint(0, 5, (64,))
    schedule = Schedule(every=5, last=steps)
    recorder = Recorder(folder, schedule, [Pair("0", "2"), Pair("2", "4")], 20, **options)
    for step in range(steps + 1):
        recorder.step(step, model)
        if options.get("defer") and step == 5:  # written at the next step(), not before
            assert specdyn.open_run(folder).steps.tolist() == [0]
        if step == steps:
            break
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    recorder.finish()


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """A run of ``_train`` that keeps every vector, written synchronously (CPU's default)."""
    folder = tmp_path_factory.mktemp("storage") / "all"
    _train(folder)
    return folder


def test_agreement_read_in_groups_of_matrices_equals_one_group(full, monkeypatch):
    from specdyn.record import agreement

    run = specdyn.open_run(full)
    kept = run.vector_steps
    whole = agreement.agreement_diagonals(run)
    monkeypatch.setattr(agreement, "GROUP_BYTES", 1)  # one matrix a group
    assert agreement._groups(run.shapes) == [[m] for m in run.shapes]
    grouped = agreement.agreement_diagonals(run)
    assert grouped[0] == whole[0] == kept and list(grouped[1]) == list(whole[1])
    assert all(torch.equal(grouped[1][m], whole[1][m]) for m in whole[1])


def _size(folder) -> int:
    return sum(p.stat().st_size for p in (folder / layout.SPECTRA).iterdir())


def test_thinned_vectors_keep_agreement_values_and_alignments(tmp_path, full):
    _train(tmp_path / "some", vector_points=3)
    full_path, full = full, specdyn.open_run(full)
    some = specdyn.open_run(tmp_path / "some")
    assert some.steps.tolist() == full.steps.tolist() == [0, 5, 10, 15, 20]
    assert full.vector_steps == [0, 5, 10, 15, 20] and some.vector_steps == [0, 10, 20]
    U, V = full.vectors("4", 20)  # (5, 32): top_k=20 is cut to its rank
    assert U.shape == (5, 5) and V.shape == (32, 5)
    assert some.gaps() == [] and full.gaps() == []
    for name in full.matrices:
        np.testing.assert_array_equal(some.singular_values(name)[1], full.singular_values(name)[1])
        steps, diagonal = some.agreement(name)  # computed before thinning: every step
        assert steps.tolist() == [0, 5, 10, 15, 20]
        np.testing.assert_array_equal(diagonal, full.agreement(name)[1])
        for a, b in zip(some.vectors(name, 10), full.vectors(name, 10), strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(some.alignment("2->4")[1], full.alignment("2->4")[1])
    assert some.metrics.equals(full.metrics)
    with pytest.raises(RunStoreError, match="kept no singular vectors at step 5 .*0, 10, 20"):
        some.vectors("2", 5)
    assert _size(tmp_path / "some") < 0.7 * _size(full_path)
    _a_lost_agreement_is_redone_at_the_steps_that_kept_vectors(tmp_path, full)


def _a_lost_agreement_is_redone_at_the_steps_that_kept_vectors(tmp_path, full) -> None:
    before = {p.name: p.read_bytes() for p in (tmp_path / "some" / layout.SPECTRA).iterdir()}
    Recorder(tmp_path / "some", Schedule(every=5, last=20), top_k=20, vector_points=3).finish()
    after = {p.name: p.read_bytes() for p in (tmp_path / "some" / layout.SPECTRA).iterdir()}
    assert after == before  # a second finish changes nothing
    (tmp_path / "some" / layout.AGREEMENT).unlink()
    run = specdyn.open_run(tmp_path / "some")
    assert run.gaps()  # agreement rows without their file
    Recorder(tmp_path / "some", Schedule(every=5, last=20), top_k=20, vector_points=3).finish()
    run = specdyn.open_run(tmp_path / "some")
    assert run.gaps() == []
    steps, diagonal = run.agreement("2")
    assert steps.tolist() == [0, 10, 20]
    np.testing.assert_allclose(diagonal, full.agreement("2")[1][[0, 2, 4]], atol=1e-6)
    rows = run.metrics.query("metric == 'agreement' and matrix == '2'")
    assert rows["step"].tolist() == [0, 10, 20]


def test_float16_vectors_keep_agreement_within_1e_3(tmp_path, full):
    _train(tmp_path / "f16", vector_dtype=torch.float16)
    a, b = specdyn.open_run(full), specdyn.open_run(tmp_path / "f16")
    assert b.vectors("2", 20)[0].dtype == np.float16
    for matrix in a.matrices:
        steps_a, diag_a = a.agreement(matrix)
        steps_b, diag_b = b.agreement(matrix)
        assert steps_a.tolist() == steps_b.tolist()
        assert np.abs(diag_a - diag_b).max() <= 1e-3
    np.testing.assert_array_equal(a.singular_values("2")[1], b.singular_values("2")[1])


def test_deferred_writes_record_the_same_as_synchronous(tmp_path, full):
    """The CUDA path writes each record at the next step; forced on CPU with defer=True."""
    _train(tmp_path / "deferred", defer=True)
    sync, deferred = specdyn.open_run(full), specdyn.open_run(tmp_path / "deferred")
    assert sync.steps.tolist() == deferred.steps.tolist() == [0, 5, 10, 15, 20]
    assert sync.metrics.equals(deferred.metrics)
    for path in (full / layout.SPECTRA).iterdir():
        assert _contents(tmp_path / "deferred" / layout.SPECTRA / path.name) == _contents(path)


def _contents(path) -> tuple[dict, dict]:
    """(metadata, key -> tensor bytes) of a safetensors file (its header's order varies)."""
    with safe_open(path, framework="pt") as f:
        tensors = {key: f.get_tensor(key).numpy().tobytes() for key in f.keys()}
        return f.metadata(), tensors


def test_a_values_only_run_finishes_consistent(tmp_path):
    """A run that kept no vectors at all (values only) gets an agreement file over its
    recorded steps holding no matrix, and no gap."""
    torch.manual_seed(0)
    recorder = Recorder(tmp_path, Schedule(every=1), top_k=4, vector_points=1)
    for step in range(3):
        recorder.record_spectra(step, decompose({"w": torch.randn(6, 4)}, vectors=False))
    recorder.finish()
    run = specdyn.open_run(tmp_path)
    assert run.vector_steps == [] and run.gaps() == []
    assert run.agreement_diagonals() == ([0, 1, 2], {})
