"""Typed configuration, overrides and run hashes."""

from specdyn.config.overrides import apply_overrides, fields_of, from_dict, run_hash, to_dict
from specdyn.config.schema import OptimConfig, RecordConfig, RunConfig, TrainConfig
from specdyn.config.validate import validate

__all__ = [
    "OptimConfig",
    "RecordConfig",
    "RunConfig",
    "TrainConfig",
    "apply_overrides",
    "fields_of",
    "from_dict",
    "run_hash",
    "to_dict",
    "validate",
]
