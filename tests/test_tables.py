"""Tables as part files: appending costs the same at any size (each flush writes only its
own rows), readers see the same table before and after compaction, a resume drops rows
exactly, and a crash between parts or inside a compaction leaves a readable table."""

from __future__ import annotations

import shutil

import pandas as pd

from specdyn.store import layout
from specdyn.store.tables import Table, read_table

COLUMNS, KEY = layout.METRICS_COLUMNS, layout.METRICS_KEY


def _rows(step: int, value: float = 0.0) -> list[dict]:
    return [
        {"step": step, "matrix": m, "metric": "r", "value": value + i} for i, m in enumerate("abc")
    ]


def _fill(path, steps) -> Table:
    table = Table(path, COLUMNS, KEY)
    for step in steps:
        table.add(_rows(step, float(step)))
        table.flush()
    return table


def test_each_flush_writes_only_its_own_rows(tmp_path):
    path = tmp_path / layout.METRICS
    _fill(path, range(50))
    parts = layout.part_files(path)
    assert len(parts) == 50 and not path.exists()
    assert {len(pd.read_parquet(p)) for p in parts} == {3}  # not the table so far


def test_readers_see_the_same_table_before_and_after_compaction(tmp_path):
    path = tmp_path / layout.METRICS
    table = _fill(path, [0, 5, 10])
    table.add(_rows(5, 100.0))  # a step written again replaces its rows
    table.flush()
    before = read_table(path, COLUMNS, KEY)
    assert before["step"].tolist() == [0] * 3 + [5] * 3 + [10] * 3
    assert before.loc[before["step"] == 5, "value"].tolist() == [100.0, 101.0, 102.0]
    table.compact()
    assert layout.part_files(path) == [] and path.exists()
    pd.testing.assert_frame_equal(read_table(path, COLUMNS, KEY), before)
    pd.testing.assert_frame_equal(pd.read_parquet(path), before)  # one plain Parquet file
    pd.testing.assert_frame_equal(Table(path, COLUMNS, KEY).frame, before)


def test_drop_after_is_exact_and_new_parts_follow(tmp_path):
    path = tmp_path / layout.METRICS
    _fill(path, range(0, 100, 10))
    table = Table(path, COLUMNS, KEY)  # reopened, as a resume does
    table.drop_after(40)
    assert read_table(path, COLUMNS, KEY)["step"].unique().tolist() == [0, 10, 20, 30, 40]
    table.add(_rows(50, -1.0))
    table.flush()
    got = read_table(path, COLUMNS, KEY)
    assert got["step"].unique().tolist() == [0, 10, 20, 30, 40, 50]
    assert got.loc[got["step"] == 50, "value"].tolist() == [-1.0, 0.0, 1.0]


def test_a_crash_between_parts_or_inside_a_compaction_leaves_a_readable_table(tmp_path):
    path = tmp_path / "run" / layout.METRICS
    path.parent.mkdir()
    table = _fill(path, range(6))
    table.add(_rows(2, 50.0))  # a later write of step 2
    table.flush()
    crashed = tmp_path / "crashed"
    shutil.copytree(path.parent, crashed)  # a crash after these parts
    expected = read_table(path, COLUMNS, KEY)
    pd.testing.assert_frame_equal(read_table(crashed / layout.METRICS, COLUMNS, KEY), expected)
    # a compaction killed after writing the table's file and removing the oldest parts
    table.frame.to_parquet(crashed / layout.METRICS, index=False)
    for part in layout.part_files(crashed / layout.METRICS)[:3]:
        part.unlink()
    got = read_table(crashed / layout.METRICS, COLUMNS, KEY)
    key = list(KEY)
    pd.testing.assert_frame_equal(
        got.sort_values(key, ignore_index=True), expected.sort_values(key, ignore_index=True)
    )


def test_flushed_rows_are_not_kept_in_memory(tmp_path):
    """Every flushed part used to stay in memory as a small DataFrame: +8 MiB per 1,000
    steps of `mlp-cifar10 tiny`. Now memory holds the last part only; the rows are on disk."""
    import gc
    import tracemalloc

    table = Table(tmp_path / "metrics.parquet", layout.METRICS_COLUMNS, layout.METRICS_KEY)

    def flush(steps: range) -> None:
        for step in steps:
            table.add([{"step": step, "matrix": f"m{i}", "metric": "x", "value": 1.0}
                       for i in range(20)])  # fmt: skip
            table.flush()

    flush(range(0, 50))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        flush(range(50, 350))
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 100_000, f"{grown} bytes kept for 300 flushed parts"
    assert len(table.frame) == 350 * 20 and len(table.latest()) == 20
