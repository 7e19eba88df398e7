"""Analyses: everything that reads finished runs and their checkpoints and computes something new.

The data flow is model + data -> task -> training loop -> recorder -> store -> **analyses**
-> figures. An analysis never changes what training recorded; it reads a run through
:func:`specdyn.open_run` and writes its own results back into that run's folder through the
store, so ``specdyn show``, the figures, ``reproduce`` and the Python API find them the same
way as training records:

- ``RUN/analyses/<name>/``: results computed from a run as it is, as tidy Parquet tables
  (and safetensors for arrays). Example: ``RUN/analyses/prune/prune.parquet`` (step,
  variant, split, loss, error) from :mod:`specdyn.analyses.prune_run`.
- ``RUN/branches/<kind>-<hash>/``: training branched from one of the run's saved full
  training states (``RUN/states/step_XXXXXXXX.pt``). A branch is an ordinary recorded run
  folder (config, history, spectra, agreement) plus ``branch.json``, which says where it
  starts and what was changed (a mask, a perturbation, another data order); ``<hash>``
  comes from that description, so asking for the same branch again resumes it, and a folder
  whose ``branch.json`` says something else is refused rather than reused.
- Designs of several runs (linear mode connectivity: trunks and their branches) live in
  one folder of their own with the same two-level layout, and their comparison tables in
  ``DESIGN/analyses/<name>/``.

Modules here are either pure numerical machinery on tensors and state dicts (``pruning``,
``masks``, ``interpolate``, ``barrier``, ``perturb``, ``targets``) or one analysis each that
reads and writes runs (``prune_run``, ``lottery``, ``lmc``, with ``branching`` running
branches). Nothing in ``specdyn`` below this package imports it.
"""
