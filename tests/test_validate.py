"""specdyn.config.validate: every value's range and the cross-field rules, on every task."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from specdyn.config import apply_overrides, fields_of
from specdyn.config.rules import Items, Maybe, OneOf, Range, Text
from specdyn.config.validate import rules_of
from specdyn.errors import ConfigError
from specdyn.tasks import TASKS, get_preset
from specdyn.tasks.checks import validate_run
from specdyn.train import train

ALL_PRESETS = [(t.name, p) for t in TASKS.values() for p in t.presets]


@pytest.mark.parametrize(("task", "preset"), ALL_PRESETS)
def test_every_preset_is_valid_and_every_field_has_a_rule(task, preset):
    cfg = get_preset(task, preset)
    assert validate_run(cfg) is cfg
    unruled = [path for path, rule in rules_of(cfg).items() if rule is None]
    assert not unruled, f"declare a rule (Annotated[type, rule]) for {unruled}"
    assert set(rules_of(cfg)) == set(fields_of(cfg))


def _error(task: str, *sets: str, preset: str = "tiny") -> str:
    with pytest.raises(ConfigError) as info:
        validate_run(apply_overrides(get_preset(task, preset), sets))
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("sets", "words"),
    [
        (["steps=0"], ["train.steps=0", "[1, 1000000000]"]),
        (["steps=-5"], ["train.steps=-5"]),
        (["eval_every=0"], ["train.eval_every=0", "[1, 1000000000]"]),
        (["every=-1"], ["record.every=-1", "[0, 1000000000]"]),
        (["every=0"], ["record.every=0", "record.at"]),
        (["state_every=-1"], ["train.state_every=-1"]),
        (["checkpoint_every=-2"], ["train.checkpoint_every=-2"]),
        (["lr=nan"], ["optim.lr=nan", "finite"]),
        (["lr=inf"], ["optim.lr=inf", "finite"]),
        (["lr=-1"], ["optim.lr=-1.0", "> 0"]),
        (["lr=0"], ["optim.lr=0.0", "> 0"]),
        (["weight_decay=-0.1"], ["optim.weight_decay=-0.1", ">= 0"]),
        (["betas=0.9,1.5"], ["optim.betas=0.9,1.5", "[0, 1)"]),
        (["betas=0.9,nan"], ["optim.betas=0.9,nan", "finite"]),
        (["eps=0"], ["optim.eps=0.0"]),
        (["momentum=1"], ["optim.momentum=1.0", "[0, 1)"]),
        (["top_k=0"], ["record.top_k=0", ">= 1"]),
        (["top_k=-3"], ["record.top_k=-3"]),
        (["vector_dtype=int8"], ["record.vector_dtype='int8'", "float32, float16, bfloat16"]),
        (["vector_dtype=foo"], ["record.vector_dtype='foo'"]),
        (["modulus=1"], ["data.modulus=1", ">= 2"]),
        (["train_fraction=0"], ["data.train_fraction=0.0", "(0, 1)"]),
        (["train_fraction=1.5"], ["data.train_fraction=1.5"]),
        (["train_fraction=0.001"], ["train_fraction=0.001", "both splits"]),
        (["d_model=15"], ["model.d_model=15", "model.n_heads=2"]),
        (["n_heads=0"], ["model.n_heads=0"]),
        (["d_mlp=-4"], ["model.d_mlp=-4"]),
        (["seed=-1"], ["seed=-1"]),
        (["data_seed=-1"], ["data_seed=-1"]),
        (["at=100"], ["record.at=100", "after the last step"]),
        (["checkpoint_at=21"], ["train.checkpoint_at=21"]),
        (["warmup_steps=50"], ["optim.warmup_steps=50"]),
        (["schedule=step", "milestones=10,5"], ["optim.milestones=10,5", "increasing"]),
        (["milestones=0"], ["optim.milestones=0", "[1, 1000000000]"]),
        (["gamma=0"], ["optim.gamma=0.0"]),
        (["final_lr_fraction=2"], ["optim.final_lr_fraction=2.0", "[0, 1]"]),
        (["grad_clip=-1"], ["optim.grad_clip=-1.0"]),
        (["name=adam"], ["optim.name='adam'", "adamw, sgd"]),
        (["schedule=linear"], ["optim.schedule='linear'"]),
        (["steps=1e30"], ["train.steps=", "1000000000"]),
    ],
)
def test_grokking_values_out_of_range(sets, words):
    message = _error("grokking", *sets)
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    ("task", "sets", "words"),
    [
        ("mlp-cifar10", ["batch_size=0"], ["data.batch_size=0"]),
        ("mlp-cifar10", ["batch_size=1000"], ["data.train_size=128", "data.batch_size=1000"]),
        ("mlp-cifar10", ["train_size=-1"], ["data.train_size=-1"]),
        ("mlp-cifar10", ["val_fraction=0"], ["data.val_fraction=0.0"]),
        ("mlp-cifar10", ["widths=3072,0,10"], ["model.widths=3072,0,10"]),
        ("mlp-cifar10", ["widths=100,10"], ["first value must be 3072"]),
        ("mlp-cifar10", ["widths=3072,5"], ["last value must be 10"]),
        ("mlp-cifar10", ["labels=foo"], ["data.labels='foo'", "true, random"]),
        ("mlp-cifar10", ["source=foo"], ["data.source='foo'"]),
        ("mlp-cifar10", ["data_dir=/x"], ["data.data_dir='/x'", "source=real"]),
        ("vgg16-cifar10", ["width=0"], ["model.width=0.0", "> 0"]),
        ("vgg16-cifar10", ["width=nan"], ["model.width=nan"]),
        ("vgg16-cifar10", ["num_classes=5"], ["model.num_classes=5", "must be 10"]),
        ("transformer-wikitext103", ["micro_batch=3"], ["data.micro_batch=3", "batch_size=8"]),
        ("transformer-wikitext103", ["context=0"], ["model.context=0"]),
        ("unet-mnist", ["beta_low=0.1", "beta_high=0.01"], ["data.beta_low=0.1", "<="]),
        ("unet-mnist", ["beta_high=2"], ["data.beta_high=2.0"]),
        ("unet-mnist", ["timesteps=0"], ["data.timesteps=0"]),
        ("unet-mnist", ["in_channels=3"], ["model.in_channels=3", "must be 1"]),
        ("lstm-librispeech", ["hidden=0"], ["model.hidden=0"]),
        ("lstm-librispeech", ["n_layers=0"], ["model.n_layers=0"]),
        ("lstm-librispeech", ["vocab_size=5"], ["model.vocab_size=5"]),
        ("lstm-librispeech", ["rates="], ["data.rates=(empty)"]),
        ("lstm-librispeech", ["max_words=2"], ["data.max_words=2"]),
    ],
)
def test_other_tasks_values_out_of_range(task, sets, words):
    message = _error(task, *sets)
    for word in words:
        assert word in message


def test_zero_means_what_each_field_documents():
    """every=0 with log_points, state_every=0, checkpoint_every=0, micro_batch=0: allowed."""
    cfg = get_preset("grokking", "tiny")
    for sets in (
        ["every=0", "log_points=5"],
        ["every=0", "at=3,7"],
        ["state_every=0", "checkpoint_every=0", "grad_clip=0", "weight_decay=0"],
        ["vector_dtype=float16"],
        ["vector_dtype=bfloat16"],
        ["eval_every=20"],
    ):
        validate_run(apply_overrides(cfg, sets))
    validate_run(apply_overrides(get_preset("transformer-wikitext103", "tiny"), ["micro_batch=0"]))
    lstm = apply_overrides(get_preset("lstm-librispeech", "tiny"), ["source=standin"])
    validate_run(apply_overrides(lstm, ["data_dir=/speech"]))  # the stand-in is synthesised there


def test_changes_checked_together_apply_in_any_order():
    cfg = get_preset("transformer-wikitext103", "tiny")  # d_model 16, 2 heads
    for sets in (["n_heads=3", "d_model=18"], ["d_model=18", "n_heads=3"]):
        new = validate_run(apply_overrides(cfg, sets))
        assert (new.model.d_model, new.model.n_heads) == (18, 3)
    with pytest.raises(ConfigError, match="model.d_model"):
        apply_overrides(cfg, ["d_model=15"])  # the model's own check, now a ConfigError


def test_api_values_of_the_wrong_type_are_refused():
    cfg = get_preset("grokking", "tiny")
    bad = [
        dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=10.5)),
        dataclasses.replace(cfg, record=dataclasses.replace(cfg.record, heads="yes")),
        dataclasses.replace(cfg, seed=True),
        dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, betas=[0.9, 0.99])),
    ]
    for c in bad:
        with pytest.raises(ConfigError, match="must be of type"):
            validate_run(c)


def test_train_refuses_a_bad_config_before_writing(tmp_path):
    cfg = apply_overrides(get_preset("grokking", "tiny"), ["top_k=0"])
    with pytest.raises(ConfigError, match="record.top_k=0"):
        train(cfg, tmp_path / "run", torch.device("cpu"), progress=False)
    assert not (tmp_path / "run").exists()


def test_rule_kinds():
    assert Range(0, 1, open_low=True).problem(0) is not None
    assert Range(0, 1, open_low=True).problem(1) is None
    assert Range(0, 1, open_high=True).problem(1) is not None
    assert Range(2, multiple_of=2).problem(7) == "it must be >= 2 and even"
    assert Range(0).problem(math.inf) is not None
    assert Range(0).problem(True) is not None  # a bool is not a number here
    assert OneOf(("a", "b")).problem("c") == "it must be one of a, b"
    assert Items(Range(1), 2, 2).problem((1,)) is not None
    assert Items(Range(1), 1).problem((1, 0)) == "every value must be >= 1"
    assert Text(nonempty=True).problem("") is not None
    assert Maybe(Range(0)).problem(None) is None
    assert Maybe(Range(0)).problem(-1) is not None
