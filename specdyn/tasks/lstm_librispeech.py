"""Speech recognition: a bidirectional LSTM with CTC on LibriSpeech (paper Appendix A.3).

Four bidirectional layers of 256 units, a Linear layer to 30 characters (blank 0), CTC loss
and greedy decoding. AdamW lr 3e-4, weight decay 0.1, batch 32, cosine from 1 to 0 over 50
epochs of train-clean-100, validated on dev-clean. Features: 40 log-mel bands (25 ms
window, 10 ms hop, area-normalised filters), per-utterance normalised and averaged over 3
frames as in the authors' code; the authors fed mel power without the log (``log=False``).

"error" is the character error rate (CER); "wer" is the word error rate. The features come
from :mod:`specdyn.data.speech`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from specdyn.config.schema import OptimConfig, RecordConfig, RunConfig, TrainConfig
from specdyn.data.chars import VOCAB_SIZE, corpus_error_rate, decode_ids, greedy_decode
from specdyn.data.configs import TRAIN_SIZE, SpeechData
from specdyn.errors import ConfigError
from specdyn.models.configs import LSTMConfig
from specdyn.tasks.base import ConfigDict, Evaluation, Experiment, FigureChoices, Task, rescheduled

if TYPE_CHECKING:  # torch is imported where a run starts: the presets need none
    import torch
    from torch import Tensor, nn

    from specdyn.data.speech import Speech

Config = RunConfig[LSTMConfig, SpeechData]


def ctc_logits(model: nn.Module, feats: list[Tensor], labels: list[Tensor]) -> tuple[Tensor, ...]:
    """Log-probs (T, B, V), per-utterance CTC losses (B,) / target length, frames (B,)."""
    import torch.nn.functional as F

    from specdyn.data.speech import collate

    device = next(model.parameters()).device
    x, frames, y, y_len = collate(feats, labels)
    log_probs = model(x.to(device), frames)
    losses = F.ctc_loss(
        log_probs, y.to(device), frames.to(device), y_len.to(device),
        blank=0, reduction="none", zero_infinity=True,
    )  # fmt: skip
    return log_probs, losses / y_len.to(device).clamp(min=1), frames


def evaluate_speech(model: nn.Module, speech: Speech, batch_size: int = 64) -> dict[str, float]:
    """Mean CTC loss, CER ("error") and WER over ``speech``, greedy decoding."""
    import torch

    feats, labels = speech
    order = sorted(range(len(feats)), key=lambda i: len(feats[i]))  # less padding
    loss, refs, hyps = 0.0, [], []
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        with torch.no_grad():
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


def build(cfg: Config, device: torch.device) -> Experiment:
    from specdyn.config import seeding
    from specdyn.data.batches import batch_indices
    from specdyn.data.speech import load_speech
    from specdyn.models.lstm import SpeechLSTM, alignment_pairs

    if cfg.model.vocab_size != VOCAB_SIZE:
        raise ConfigError(f"model.vocab_size must be {VOCAB_SIZE}, got {cfg.model.vocab_size}")
    splits, source = load_speech(cfg.data, cfg.model.n_mels)
    seeding.seed_initialisation(cfg.seed)
    model = SpeechLSTM(cfg.model).to(device)
    feats, labels = splits["train"]
    n_eval = cfg.data.eval_utterances or len(splits["val"][0])
    keep = seeding.fixed_permutation(len(feats))[:n_eval]
    evals = {
        "train": ([feats[i] for i in keep], [labels[i] for i in keep]),
        "val": splits["val"],
    }

    def loss(model: nn.Module, step: int) -> Tensor:
        idx = batch_indices(len(feats), cfg.data.batch_size, step, cfg.order_seed).tolist()
        return ctc_logits(model, [feats[i] for i in idx], [labels[i] for i in idx])[1].mean()

    def evaluate(model: nn.Module) -> Evaluation:
        return {split: evaluate_speech(model, speech) for split, speech in evals.items()}

    return Experiment(model, loss, evaluate, alignment_pairs(cfg.model), source)


def _preset(
    name: str, model: LSTMConfig, data: SpeechData, epochs: int, n_train: int,
    lr: float = 3e-4, top_k: int = 100, records: int = 200, eval_epochs: int = 1,
) -> Config:  # fmt: skip
    """AdamW wd 0.1, cosine 1 -> 0 over ``epochs``, evaluated every ``eval_epochs``."""
    per_epoch = n_train // data.batch_size
    steps = epochs * per_epoch
    optim = OptimConfig(lr=lr, weight_decay=0.1, schedule="cosine", final_lr_fraction=0.0)
    train = TrainConfig(steps=steps, eval_every=eval_epochs * per_epoch, state_every=per_epoch)
    record = RecordConfig(every=max(steps // records, 1), top_k=top_k)
    return RunConfig("lstm-librispeech", name, model, data, optim, train, record)


PRESETS: dict[str, Config] = {
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


def _figure_layer(config: ConfigDict) -> int:
    """The paper's 3rd of 4 layers: the one before the last (the first of one)."""
    return max(int(config["model"]["n_layers"]) - 2, 0)


def _figure_matrix(config: ConfigDict) -> str:
    return f"lstm.weight_ih_l{_figure_layer(config)}.g"


def _figure_pair(config: ConfigDict) -> str:
    k, n = _figure_layer(config), int(config["model"]["n_layers"])
    nxt = f"lstm.weight_ih_l{k + 1}.g" if k + 1 < n else "fc"
    return f"{_figure_matrix(config)}->{nxt}"


def _cpu_scale(cfg: RunConfig) -> RunConfig:
    cfg = rescheduled(cfg, 240, every=24, eval_every=24, state_every=48)
    return replace(
        cfg,
        model=replace(cfg.model, n_layers=2),
        data=replace(cfg.data, max_words=5),
        optim=replace(cfg.optim, lr=0.02),
    )


TASK = Task(
    name="lstm-librispeech",
    description="BiLSTM + CTC speech recognition on LibriSpeech (Appendix A.3): CER and WER",
    presets=PRESETS,
    default_preset="cpu",
    build=build,
    # the 3rd layer's g gate; 3rd -> 4th; heatmap: the g gates by depth, then fc.
    figures=FigureChoices(_figure_matrix, _figure_pair, r"\.g$|^fc$", "CER"),
    data_facts=(("model.vocab_size", None, 30),),  # the CTC alphabet
    data_dir_sources=("real", "standin"),  # the stand-in speech is synthesised into it
    paper_figures=("3", "5", "6", "7", "9", "14"),
    # 960 -> 240 steps, 3 -> 2 layers, sentences of at most 5 words (not 8), lr 3e-3 -> 2e-2
    # (cosine over the 240 steps): leaves the CTC blank plateau by step 50 and ends at
    # validation CER ~0.33 (seeds 0 and 1), ~70 CPU-s a point; docs/sweeps.md
    cpu_scale=_cpu_scale,
)
