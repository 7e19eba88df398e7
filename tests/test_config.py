"""specdyn.config: --set overrides, JSON round trips and run hashes."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass

import pytest
import torch

from specdyn.config import (
    OptimConfig,
    RecordConfig,
    RunConfig,
    TrainConfig,
    apply_overrides,
    fields_of,
    from_dict,
    run_hash,
    to_dict,
)
from specdyn.config.overrides import resolve_key
from specdyn.errors import ConfigError, SpecdynError
from specdyn.tasks import TASKS, get_preset

PRESETS = TASKS["grokking"].presets


@pytest.fixture
def cfg() -> RunConfig:
    return get_preset("grokking", "cpu")


# ------------------------------------------------------------------------ bare names


def test_bare_names(cfg):
    new = apply_overrides(cfg, ["weight_decay=0.5", "modulus=97", "lr=3e-3", "steps=10", "every=5"])
    assert new.optim.weight_decay == 0.5
    assert new.data.modulus == 97 and isinstance(new.data.modulus, int)
    assert new.optim.lr == 3e-3 and isinstance(new.optim.lr, float)
    assert new.train.steps == 10 and isinstance(new.train.steps, int)
    assert new.record.every == 5
    # Nothing else moved, and the original is untouched (configs are frozen).
    assert new.train.eval_every == cfg.train.eval_every
    assert new.optim.betas == cfg.optim.betas
    assert cfg.data.modulus == 59 and cfg.optim.weight_decay == 1.0


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("every", "record.every"),  # not eval_every / state_every / checkpoint_every
        ("steps", "train.steps"),  # not warmup_steps
        ("lr", "optim.lr"),
        ("modulus", "data.modulus"),
        ("d_model", "model.d_model"),
        ("seed", "seed"),
        ("optim.lr", "optim.lr"),
        ("record.every", "record.every"),
    ],
)
def test_resolve_key(cfg, key, path):
    assert resolve_key(cfg, key) == path


def test_unknown_key_raises(cfg):
    with pytest.raises(ConfigError, match="unknown key 'learning_rate'"):
        apply_overrides(cfg, ["learning_rate=1"])
    with pytest.raises(ConfigError):
        apply_overrides(cfg, ["optim.modulus=1"])  # a real field, in another section
    with pytest.raises(ConfigError):
        resolve_key(cfg, "")


def test_missing_equals_raises(cfg):
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides(cfg, ["lr"])


@dataclass(frozen=True)
class ClashModel:
    lr: float = 0.1
    width: int = 4


@dataclass(frozen=True)
class ClashData:
    size: int = 10


def test_ambiguous_key_lists_matches():
    cfg = RunConfig("toy", "p", ClashModel(), ClashData())
    with pytest.raises(ConfigError, match="ambiguous") as info:
        resolve_key(cfg, "lr")
    message = str(info.value)
    assert "model.lr" in message and "optim.lr" in message
    new = apply_overrides(cfg, ["model.lr=0.5", "optim.lr=0.25", "width=8"])
    assert new.model == ClashModel(lr=0.5, width=8)
    assert new.optim.lr == 0.25


# ---------------------------------------------------------------------- dotted names


def test_dotted_names(cfg):
    new = apply_overrides(
        cfg,
        ["optim.lr=0.01", "train.eval_every=7", "record.top_k=20", "seed=3", "optim.name=sgd"],
    )
    assert new.optim.lr == 0.01
    assert new.train.eval_every == 7
    assert new.record.top_k == 20
    assert new.seed == 3
    assert new.optim.name == "sgd"


def test_overrides_apply_in_order(cfg):
    assert apply_overrides(cfg, ["lr=0.1", "optim.lr=0.2"]).optim.lr == 0.2
    assert apply_overrides(cfg, []) == cfg


def test_whitespace_is_stripped(cfg):
    assert apply_overrides(cfg, [" lr = 0.5 "]).optim.lr == 0.5


def test_integers_accept_integral_floats(cfg):
    assert apply_overrides(cfg, ["steps=1e3"]).train.steps == 1000
    assert apply_overrides(cfg, ["lr=1"]).optim.lr == 1.0


# ------------------------------------------------------------------------ value types


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("true", True),
        ("True", True),
        ("1", True),
        ("yes", True),
        ("on", True),
        ("false", False),
        ("FALSE", False),
        ("0", False),
        ("no", False),
        ("off", False),
    ],
)
def test_bool_parsing(cfg, raw, value):
    assert apply_overrides(cfg, [f"heads={raw}"]).record.heads is value
    assert apply_overrides(cfg, [f"model.layer_norm={raw}"]).model.layer_norm is value


def test_tuple_parsing(cfg):
    assert apply_overrides(cfg, ["optim.betas=0.9,0.98"]).optim.betas == (0.9, 0.98)
    assert apply_overrides(cfg, ["betas=(0.8, 0.95)"]).optim.betas == (0.8, 0.95)
    assert apply_overrides(cfg, ["milestones=100,200,300"]).optim.milestones == (100, 200, 300)
    assert apply_overrides(cfg, ["milestones=[5]"]).optim.milestones == (5,)
    assert apply_overrides(cfg, ["checkpoint_at="]).train.checkpoint_at == ()
    assert apply_overrides(cfg, ["at=0,10"]).record.at == (0, 10)


@pytest.mark.parametrize(
    "assignment",
    [
        "modulus=abc",
        "steps=1.5",
        "lr=fast",
        "heads=maybe",
        "betas=0.9",  # two values expected
        "betas=0.9,0.98,0.999",
        "betas=0.9,x",
        "milestones=1,2.5",
        "seed=0.5",
    ],
)
def test_wrong_type_raises(cfg, assignment):
    key = assignment.partition("=")[0]
    with pytest.raises(ConfigError, match=re.escape(key)) as info:
        apply_overrides(cfg, [assignment])
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, SpecdynError)


# --------------------------------------------------------------------- dict round trip


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_dict_round_trip(preset):
    cfg = PRESETS[preset]
    assert from_dict(to_dict(cfg), cfg) == cfg
    through_json = json.loads(json.dumps(to_dict(cfg)))
    back = from_dict(through_json, cfg)
    assert back == cfg
    assert isinstance(back.optim.betas, tuple)
    assert run_hash(back) == run_hash(cfg)


def test_dict_round_trip_after_overrides(cfg):
    new = apply_overrides(cfg, ["milestones=10,20", "at=1,2,3", "heads=true", "seed=7"])
    assert from_dict(json.loads(json.dumps(to_dict(new))), cfg) == new


def test_from_dict_rejects_unknown_keys(cfg):
    data = to_dict(cfg)
    data["optim"]["learning_rate"] = 0.1
    with pytest.raises(ConfigError, match="learning_rate"):
        from_dict(data, cfg)


def test_from_dict_fills_missing_fields_with_defaults(cfg):
    data = to_dict(cfg)
    del data["optim"]["grad_clip"]
    assert from_dict(data, cfg) == cfg


def test_fields_of_lists_every_settable_field(cfg):
    paths = fields_of(cfg)
    assert paths["seed"] == cfg.seed
    for section, klass in (
        ("optim", OptimConfig),
        ("train", TrainConfig),
        ("record", RecordConfig),
    ):
        for field in dataclasses.fields(klass):
            assert f"{section}.{field.name}" in paths
    assert paths["data.modulus"] == 59
    assert "task" not in paths and "preset" not in paths


# ----------------------------------------------------------------------------- hashes


def test_run_hash_is_deterministic(cfg):
    h = run_hash(cfg)
    assert re.fullmatch(r"[0-9a-f]{8}", h)
    assert run_hash(cfg) == h
    assert run_hash(dataclasses.replace(cfg)) == h
    assert run_hash(get_preset("grokking", "cpu")) == h


@pytest.mark.parametrize(
    "assignment",
    ["lr=0.01", "seed=1", "modulus=61", "every=10", "heads=true", "betas=0.9,0.99", "at=5"],
)
def test_run_hash_changes_with_a_field(cfg, assignment):
    assert run_hash(apply_overrides(cfg, [assignment])) != run_hash(cfg)


@pytest.mark.parametrize(
    "assignment", ["lr=3e-3", "optim.lr=0.003", "modulus=59", "seed=0", "betas=0.9,0.98"]
)
def test_run_hash_unchanged_by_no_op_override(cfg, assignment):
    assert apply_overrides(cfg, [assignment]) == cfg
    assert run_hash(apply_overrides(cfg, [assignment])) == run_hash(cfg)


def test_presets_have_distinct_hashes():
    hashes = {name: run_hash(c) for name, c in PRESETS.items()}
    assert len(set(hashes.values())) == len(hashes), hashes


# Golden values. Run folders are named by run_hash: if these change, every existing run
# folder is orphaned (a rerun no longer finds, resumes or reuses it). Change them only
# on purpose, together with a migration note.
GOLDEN_HASHES = {"cpu": "ae8c4b59", "tiny": "96fb30a7"}


@pytest.mark.parametrize("preset", sorted(GOLDEN_HASHES))
def test_run_hash_golden(preset):
    assert run_hash(PRESETS[preset]) == GOLDEN_HASHES[preset]


# ------------------------------------------------------------------------ data-order seed


def test_data_seed_defaults_to_the_run_seed(cfg):
    assert cfg.data_seed is None and cfg.order_seed == cfg.seed
    new = apply_overrides(cfg, ["seed=4"])
    assert new.order_seed == 4


def test_data_seed_separates_data_order_from_initialisation(cfg):
    new = apply_overrides(cfg, ["data_seed=7"])
    assert (new.seed, new.data_seed, new.order_seed) == (cfg.seed, 7, 7)
    assert apply_overrides(new, ["data_seed=none"]).data_seed is None
    assert run_hash(new) != run_hash(cfg)
    assert from_dict(json.loads(json.dumps(to_dict(new))), new) == new


def test_data_seed_none_keeps_old_hashes(cfg):
    assert run_hash(apply_overrides(cfg, ["data_seed=none"])) == run_hash(cfg)


def test_data_seed_changes_batches_not_initial_weights():
    from specdyn.tasks import get_task

    base = apply_overrides(get_preset("mlp-cifar10", "tiny"), [])
    other = apply_overrides(base, ["data_seed=5"])
    device = torch.device("cpu")
    a, b = (get_task("mlp-cifar10").build(c, device) for c in (base, other))
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(p, q)
    assert not torch.equal(a.loss(a.model, 0), b.loss(b.model, 0))
