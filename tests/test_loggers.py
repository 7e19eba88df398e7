"""``Recorder(loggers=[...])`` against the real packages, each read back from what it wrote:
TensorBoard's event file, a W&B offline run's transaction log, an MLflow file store."""

from __future__ import annotations

import struct
import sys
import time

import numpy as np
import pytest
import torch
from torch import nn

from specdyn import Pair, Recorder, Schedule, open_run

STEPS = 4
KEYS = {"specdyn/stable_rank/0", "specdyn/alignment/0->2", "specdyn/summary/stable_rank"}


def _record(folder, loggers, histograms=("2",)) -> nn.Sequential:
    """Record a small MLP at steps 0, 2, 4 of SGD into ``folder`` and ``loggers``."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(16, 6)
    recorder = Recorder(
        folder,
        Schedule(every=2, last=STEPS),
        pairs=[Pair("0", "2")],
        top_k=4,
        loggers=loggers,
        histograms=histograms,
    )
    for step in range(STEPS + 1):
        recorder.step(step, model)
        loss = model(x).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    recorder.finish()
    return model


def _expected(folder) -> dict[tuple[str, int], float]:
    """(logger key, step) -> value, from the run folder's metrics table."""
    metrics = open_run(folder).metrics
    out = {}
    for matrix, metric in (("0", "stable_rank"), ("0->2", "alignment")):
        rows = metrics[(metrics["matrix"] == matrix) & (metrics["metric"] == metric)]
        out |= {
            (f"specdyn/{metric}/{matrix}", int(s)): v
            for s, v in zip(rows.step, rows.value, strict=True)
        }
    ranks = metrics[(metrics["metric"] == "stable_rank")].groupby("step")["value"].mean()
    out |= {("specdyn/summary/stable_rank", int(s)): v for s, v in ranks.items()}
    return out


def _values_at_last_step(folder, matrix: str) -> np.ndarray:
    return open_run(folder).singular_values(matrix)[1][-1]


def test_tensorboard_gets_scalars_and_histograms(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(tmp_path / "tb")
    _record(tmp_path / "run", [writer])
    writer.close()
    events = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0, "histograms": 0})
    events.Reload()
    assert KEYS <= set(events.Tags()["scalars"])
    for (key, step), value in _expected(tmp_path / "run").items():
        (event,) = [e for e in events.Scalars(key) if e.step == step]
        assert event.value == pytest.approx(value, rel=1e-6)
    histograms = events.Histograms("specdyn/singular_values/2")
    assert [h.step for h in histograms] == [0, 2, 4]
    last = histograms[-1].histogram_value
    s = _values_at_last_step(tmp_path / "run", "2")
    assert (
        last.num == len(s)
        and last.max == pytest.approx(s.max())
        and last.min == pytest.approx(s.min())
    )


def _wandb_records(path) -> list:
    """The protobuf records of a W&B ``.wandb`` file: a LevelDB-style log (a 7-byte file
    header, 32 KiB blocks of chunks each with a 7-byte header)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, records, pos, record = path.read_bytes(), [], 7, b""
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        if left < 7:  # the block's tail is padding
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0 or pos + 7 + length > len(data):  # the end written so far
            break
        record += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a full record, or the last chunk of one
            message = pb.Record()
            message.ParseFromString(record)
            records.append(message)
            record = b""
    return records


def _wandb_history(path) -> list[dict]:
    """The history rows of a finished offline run, once its service has written the exit
    record (``run.finish()`` can return before the file is complete)."""
    deadline = time.monotonic() + 60
    while True:
        records = _wandb_records(path)
        kinds = [r.WhichOneof("record_type") for r in records]
        if "exit" in kinds or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert "exit" in kinds, kinds
    return [
        {i.key or "/".join(i.nested_key): i.value_json for i in r.history.item}
        for r, kind in zip(records, kinds, strict=True)
        if kind == "history"
    ]


def test_wandb_offline_run_gets_scalars_and_histograms(tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb")
    import json

    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    run = wandb.init(
        mode="offline", dir=tmp_path, project="specdyn-test", settings=wandb.Settings(silent=True)
    )
    try:
        _record(tmp_path / "run", [run])
    finally:
        run.finish()
    (log,) = tmp_path.glob("wandb/offline-run-*/*.wandb")
    rows = {int(r["_step"]): r for r in _wandb_history(log)}
    assert sorted(rows) == [0, 2, 4]
    for (key, step), value in _expected(tmp_path / "run").items():
        assert json.loads(rows[step][key]) == pytest.approx(value, rel=1e-6)
    key = "specdyn/singular_values/2"  # a histogram is stored as nested keys
    assert json.loads(rows[4][f"{key}/_type"]) == "histogram"
    counts, bins = json.loads(rows[4][f"{key}/values"]), json.loads(rows[4][f"{key}/bins"])
    s = _values_at_last_step(tmp_path / "run", "2")
    assert (
        sum(counts) == len(s)
        and bins[0] == pytest.approx(s.min())
        and bins[-1] == pytest.approx(s.max())
    )


def test_mlflow_file_store_gets_scalars(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri((tmp_path / "mlruns").as_uri())
    try:
        with mlflow.start_run() as run:
            _record(tmp_path / "run", [run])
        client = mlflow.MlflowClient()
        for (key, step), value in _expected(tmp_path / "run").items():
            history = client.get_metric_history(run.info.run_id, key.replace(">", "_"))
            (metric,) = [m for m in history if m.step == step]
            assert metric.value == pytest.approx(value, rel=1e-12)
    finally:
        mlflow.set_tracking_uri(before)


def test_an_unknown_logger_is_one_line_naming_the_accepted_types(tmp_path):
    with pytest.raises(TypeError) as err:
        Recorder(tmp_path, 2, loggers=[object()])
    message = str(err.value)
    assert "\n" not in message and "SummaryWriter" in message and "wandb" in message
    assert "MLflow" in message and "builtins.object" in message


def test_a_histogram_of_no_matrix_names_the_matrices(tmp_path):
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    with (
        SummaryWriter(tmp_path / "tb") as writer,
        pytest.raises(ValueError, match="'nope'.*'0', '2', '4'"),
    ):
        _record(tmp_path / "run", [writer], histograms=("nope",))


def test_import_specdyn_imports_no_logger_package():
    import subprocess

    code = (
        "import specdyn, sys; print(sorted({'wandb', 'mlflow', 'tensorboard'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
