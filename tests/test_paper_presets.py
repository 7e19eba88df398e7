"""Every ``paper`` preset builds and trains at its full model size: 3 steps on the CPU, on
generated data in each data set's real on-disk format (CIFAR-10 binary batches, MNIST IDX,
LibriSpeech FLAC with transcripts, WikiText-103 raw text), recorded (values, vectors,
alignments, agreement) at the first and the last step.

Only what a CPU cannot afford at the paper's scale is changed: the batch size, the number
of steps (the learning-rate schedule is compressed into them), how much is evaluated and
sampled, and the language model's context (2,048 -> 256 tokens; its positions are
sinusoidal, so no parameter depends on it). The models, the optimizers and the recording
settings are the paper's, and the recorded matrices are checked against the paper's sizes
(Appendix A). Slow (a minute or two): ``pytest -m "not slow"`` leaves it out.
"""

from __future__ import annotations

import dataclasses
import gzip
import math
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from specdyn import open_run
from specdyn.config.overrides import apply_overrides
from specdyn.config.schema import OptimConfig
from specdyn.data import cache
from specdyn.tasks import get_preset, get_task
from specdyn.tasks.registry import TASKS
from specdyn.train import train

pytestmark = pytest.mark.slow

WORDS = "the of and to in a is was for on as by with he at from that his it an were".split()


def _cifar(root: Path, per_batch: int = 16) -> None:
    """CIFAR-10's binary layout: records of 1 label byte and 3,072 pixel bytes."""
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = rng.integers(0, 10, (per_batch, 1), dtype=np.uint8)
        pixels = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        np.concatenate([labels, pixels], axis=1).tofile(folder / f"{name}.bin")


def _idx(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    return header + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def _mnist(root: Path) -> None:
    """MNIST's four gzipped IDX files."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 40), ("t10k", 16)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        for kind, array, dims in (("images", images, 3), ("labels", labels, 1)):
            (root / f"{prefix}-{kind}-idx{dims}-ubyte.gz").write_bytes(gzip.compress(_idx(array)))


def _librispeech(root: Path) -> None:
    """LibriSpeech's speaker/chapter folders of 16 kHz FLAC files and a transcript each."""
    sf = pytest.importorskip("soundfile")
    rng = np.random.default_rng(0)
    for subset, speaker in (("train-clean-100", "19"), ("dev-clean", "84")):
        chapter = root / "LibriSpeech" / subset / speaker / "198"
        chapter.mkdir(parents=True)
        lines = []
        for i in range(4):
            seconds, freq = 0.6 + 0.2 * i, 200.0 + 50 * i
            t = np.arange(int(seconds * 16000)) / 16000
            audio = 0.4 * np.sin(2 * math.pi * freq * t) + rng.normal(0, 0.01, t.size)
            utt = f"{speaker}-198-{i:04d}"
            sf.write(chapter / f"{utt}.flac", audio.astype(np.float32), 16000)
            lines.append(f"{utt} {' '.join(rng.choice(WORDS, 4 + i)).upper()}")
        (chapter / f"{speaker}-198.trans.txt").write_text("\n".join(lines) + "\n")


def _wikitext(root: Path) -> None:
    """WikiText-103's raw layout: wiki.{train,valid,test}.raw, articles of word lines."""
    folder = root / "wikitext-103-raw"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, words in (("train", 40_000), ("valid", 12_000), ("test", 2_000)):
        lines = [" ".join(rng.choice(WORDS, 20)) + " . " for _ in range(words // 20)]
        text = " = Article = \n \n " + " \n ".join(lines) + " \n"
        (folder / f"wiki.{split}.raw").write_text(text, encoding="utf-8")


SMALL = ["train.steps=3", "record.every=3", "train.eval_every=3", "train.state_every=3"]
# task -> (writer of its real data, what a CPU cannot afford at the paper's scale)
DATA = {
    "grokking": (None, []),
    "mlp-cifar10": (_cifar, ["data.batch_size=8", "data.eval_size=8"]),
    "vgg16-cifar10": (_cifar, ["data.batch_size=4", "data.eval_size=4"]),
    "unet-mnist": (_mnist, ["data.batch_size=4", "data.eval_size=4", "data.n_samples=1"]),
    "lstm-librispeech": (_librispeech, ["data.batch_size=2", "data.eval_utterances=2"]),
    "transformer-wikitext103": (
        _wikitext,
        ["data.batch_size=2", "data.micro_batch=1", "data.eval_chunks=1", "model.context=256"],
    ),
}
# task -> (matrices recorded, the largest matrix's shape): the paper's sizes (Appendix A).
SIZES = {
    "grokking": (9, (512, 128)),  # d 128, MLP 512, with q/k/v split out
    "mlp-cifar10": (4, (256, 3072)),  # 3072-256-256-256-10
    "vgg16-cifar10": (14, (512, 4608)),  # 13 3x3 convolutions and the classifier
    "unet-mnist": (16, (512, 2304)),  # channels 64-512, embedding 512
    "lstm-librispeech": (81, (1024, 512)),  # 4 bidirectional layers of 256, gates split out
    "transformer-wikitext103": (662, (50304, 768)),  # 12 blocks of 768, heads split out
}


def _schedule_in_three_steps(optim: OptimConfig) -> list[str]:
    """The paper's learning-rate schedule compressed into 3 steps: warm-up over the first
    step, lr drops after steps 1 and 2."""
    warmup = ["optim.warmup_steps=1"] if optim.warmup_steps else []
    return warmup + (["optim.milestones=1,2"] if optim.milestones else [])


def _timeless(optim: OptimConfig) -> OptimConfig:
    return dataclasses.replace(optim, warmup_steps=0, milestones=())


def _contextless(model: object) -> object:
    """The model config less its context length, on which no parameter depends."""
    return dataclasses.replace(model, context=0) if hasattr(model, "context") else model  # type: ignore[call-arg]


PAPER = [(t, p) for t in TASKS for p in get_task(t).presets if p.startswith("paper")]


def test_every_task_has_a_paper_preset_here():
    assert {t for t, _ in PAPER} == set(TASKS) == set(DATA)


@pytest.mark.parametrize(("task", "preset"), PAPER, ids=[f"{t}-{p}" for t, p in PAPER])
def test_paper_preset_trains_three_recorded_steps(task, preset, tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "CACHE_ROOT", tmp_path / "cache")  # tokens, features
    write, small = DATA[task]
    overrides = SMALL + small
    if write is not None:
        write(tmp_path / "data")
        overrides.append(f"data.data_dir={tmp_path / 'data'}")
    paper = get_preset(task, preset)
    cfg = apply_overrides(paper, overrides + _schedule_in_three_steps(paper.optim))
    assert _contextless(cfg.model) == _contextless(paper.model)
    assert _timeless(cfg.optim) == _timeless(paper.optim)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = open_run(train(cfg, tmp_path / "run", torch.device("cpu"), progress=False))
    finally:
        torch.set_num_threads(threads)
    assert run.steps.tolist() == [0, 3]
    assert run.gaps() == []
    if write is not None:
        assert run.config["data_source"].startswith(("CIFAR", "MNIST", "LibriSpeech", "Wiki"))
    shapes = {name: shape for name, (shape, _) in run.shapes.items()}
    n_matrices, largest = SIZES[task]
    assert (len(shapes), max(shapes.values(), key=math.prod)) == (n_matrices, largest)
    values = np.concatenate([run.singular_values(m)[1].ravel() for m in run.matrices])
    assert np.isfinite(values).all() and (values >= 0).all()
    assert np.isfinite(run.history["loss"].to_numpy()).all()
