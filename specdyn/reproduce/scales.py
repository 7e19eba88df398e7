"""How big a reproduced figure's runs are: ``paper`` (the tasks' paper presets, for a GPU or
a cluster) or ``cpu`` (the tasks' ``cpu`` presets shrunk further, as overrides, so that 3
seeds of every grid point finish within 20 minutes on 2 cores, one point after another).

What ``cpu`` shrinks, per task (steps scale the lr-schedule milestones with them; the
recording stays dense enough for a figure):

  grokking                 3,000 -> 1,200 steps, recorded and evaluated every 50
  vgg16-cifar10            20 -> 6 epochs (234 steps), lr drops at the same fractions
  unet-mnist               1,984 -> 600 steps
  lstm-librispeech         960 -> 240 steps, 3 -> 2 layers, sentences of at most 5 words
                           (not 8), lr 3e-3 -> 2e-2 (cosine over the 240 steps): leaves the
                           CTC blank plateau by step 50 and ends at validation CER ~0.33
                           (seeds 0 and 1), ~70 CPU-s a point; docs/sweeps.md
  transformer-wikitext103  1,500 -> 350 steps, warmup 100 -> 50
  mlp-cifar10              300 -> 200 epochs (7,800 steps), evaluated every 2 epochs
"""

from __future__ import annotations

from specdyn.errors import ConfigError

SCALES = ("cpu", "paper", "tiny")  # tiny: the tasks' tiny presets, seconds, for tests

CPU_OVERRIDES: dict[str, tuple[str, ...]] = {
    "grokking": ("steps=1200", "every=50", "eval_every=50", "state_every=200"),
    "vgg16-cifar10": (
        "steps=234",
        "milestones=117,176,222",
        "every=39",
        "eval_every=39",
        "state_every=78",
    ),
    "unet-mnist": ("steps=600", "every=50", "eval_every=100", "state_every=100"),
    "lstm-librispeech": (
        "steps=240",
        "n_layers=2",
        "max_words=5",
        "lr=0.02",
        "every=24",
        "eval_every=24",
        "state_every=48",
    ),
    "transformer-wikitext103": (
        "steps=350",
        "warmup_steps=50",
        "every=25",
        "eval_every=25",
        "state_every=50",
    ),
    "mlp-cifar10": ("steps=7800", "every=390", "eval_every=78", "state_every=390"),
}

# The paper's weight-decay grids (Figures 6, 7, 14): SGD tasks take small values, AdamW
# tasks large ones (decoupled decay). The MLP trains with SGD like VGG, so it takes VGG's.
SGD_WEIGHT_DECAYS = ("0", "0.001", "0.01", "0.1")
ADAMW_WEIGHT_DECAYS = ("0", "0.1", "1", "10")


def weight_decays(task: str) -> tuple[str, ...]:
    """The grid of ``task``, by the optimizer of its cpu preset (SGD or AdamW)."""
    from specdyn.tasks.registry import get_preset

    sgd = get_preset(task, "cpu").optim.name == "sgd"
    return SGD_WEIGHT_DECAYS if sgd else ADAMW_WEIGHT_DECAYS


def preset_and_overrides(
    task: str, scale: str, paper_preset: str = "paper"
) -> tuple[str, tuple[str, ...]]:
    """(preset, overrides) of ``task`` at ``scale``."""
    if scale == "paper":
        return paper_preset, ()
    if scale == "tiny":
        return "tiny", ()
    if scale == "cpu":
        return "cpu", CPU_OVERRIDES.get(task, ())
    raise ConfigError(f"unknown scale '{scale}'; known: {', '.join(SCALES)}")
