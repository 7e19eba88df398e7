"""Hugging Face Hub revisions as a checkpoint series: ``hf:OWNER/NAME@REV,REV,...``.

A revision is a branch, tag or commit (Pythia and OLMo publish training checkpoints as
branches ``step1000``, ``step2000``, ...). Each comma-separated item is a revision or a
range ``PREFIXa:PREFIXb:STRIDE`` (``step1000:step3000:1000`` is step1000, step2000,
step3000; the second prefix may be left out). No ``@`` means ``main``.

Every revision is resolved first (its commit and file list, one metadata request each), so
an unknown repository or revision, an unreachable Hub or a revision without weights is
reported before anything is written. Then revisions are fetched one at a time: only the
weights (safetensors preferred, the shard index and its shards when sharded, PyTorch files
otherwise) and ``config.json``.

Disk: files already in the user's Hugging Face cache (``HF_HUB_CACHE``, else
``HF_HOME/hub``, else ``~/.cache/huggingface/hub``) for that commit are read in place and
never deleted. Anything else is downloaded into a temporary folder next to the run folder
and deleted as soon as its revision is recorded (or on error), so the disk holds at most
``--keep`` revisions at a time (default 1; with more, the next ones download while one is
analysed) and the user's cache does not grow. A rerun resumes after the last recorded
revision. ``HF_ENDPOINT`` is read when revisions are resolved; each revision is fetched
from the Hub it was resolved on (a Ray worker too). Under ``--backend``, each task fetches
its own revision the same way, into the run folder's ``.parts`` folder, and deletes it
once analysed: the disk holds at most one revision per running task, and the first,
which plans the run, until the series ends (``--keep`` is for one process).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from specdyn.checkpoints.series import Checkpoint, read_hints, step_from_name
from specdyn.errors import CheckpointError, ConfigError

PREFIX = "hf:"
MAX_REVISIONS = 10_000
_REPO = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")
_RANGE = re.compile(r"(\D*)(\d+):(?:\1)?(\d+):(\d+)")
_TORCH_WEIGHTS = re.compile(r".+\.(bin|pt|pth)$")
_NOT_WEIGHTS = re.compile(r"^(optimizer|scheduler|scaler|rng_state.*|training_args)\.")


@dataclass(frozen=True)
class Revision:
    """One revision of ``repo``: its name as given, step, resolved commit, and the files
    to fetch (``weights``: one weights file or a shard index; ``config``: config.json)."""

    repo: str
    name: str
    step: int
    commit: str
    weights: str
    config: bool
    endpoint: str = ""  # the Hub it was resolved on (a worker fetches from the same one)

    @property
    def label(self) -> str:
        return f"{PREFIX}{self.repo}@{self.name}"


def is_hub(path: str | Path) -> bool:
    """Whether ``path`` names Hub revisions (``hf:...``) rather than a local path."""
    return str(path).startswith(PREFIX) and not Path(path).exists()


def parse(spec: str) -> tuple[str, list[str]]:
    """``hf:OWNER/NAME@a,b,PREFIXc:PREFIXd:STRIDE`` -> (repo, revision names)."""
    repo, at, revisions = spec.removeprefix(PREFIX).partition("@")
    if not _REPO.fullmatch(repo):
        raise ConfigError(f"'{spec}': expected hf:OWNER/NAME[@REVISION,...]")
    if not at:
        return repo, ["main"]
    names = [name for item in revisions.split(",") for name in _items(spec, item.strip())]
    if len(set(names)) != len(names):
        raise ConfigError(f"'{spec}' names a revision twice")
    return repo, names


def _items(spec: str, item: str) -> list[str]:
    if not item:
        raise ConfigError(f"'{spec}' has an empty revision")
    if ":" not in item:
        return [item]
    match = _RANGE.fullmatch(item)
    if match is None:
        raise ConfigError(f"'{item}' in '{spec}' is not a range PREFIXa:PREFIXb:STRIDE")
    prefix, (a, b, stride) = match.group(1), map(int, match.groups()[1:])
    if stride < 1 or b < a or (b - a) // stride >= MAX_REVISIONS:
        raise ConfigError(
            f"range '{item}' in '{spec}' needs a <= b, STRIDE >= 1 and fewer "
            f"than {MAX_REVISIONS} revisions"
        )
    return [f"{prefix}{n}" for n in range(a, b + 1, stride)]


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def user_cache() -> Path:
    """The Hugging Face cache the user's own downloads go to (huggingface_hub's rule)."""
    env = os.environ
    hub = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE")
    if hub:
        return Path(hub).expanduser()
    home = env.get("HF_HOME") or os.path.join(env.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def resolve(repo: str, names: Sequence[str], steps: Sequence[int] | None) -> list[Revision]:
    """Each revision's commit and files, with its step (from its name, or ``steps``);
    sorted by step. CheckpointError for anything the Hub cannot give."""
    if steps is not None and len(steps) != len(names):
        raise CheckpointError(f"--steps gives {len(steps)} steps for {len(names)} revisions")
    try:
        from huggingface_hub import HfApi
    except ImportError:
        raise ConfigError(
            "hf: paths need huggingface_hub: pip install huggingface_hub (or -e '.[hf]')"
        ) from None

    api = HfApi(endpoint=endpoint())
    found: dict[int, Revision] = {}
    for i, name in enumerate(names):
        step = _step(name, i, steps, len(names))
        try:
            info = api.model_info(repo, revision=name)
        except Exception as err:  # every failure of the client becomes one line
            raise hub_error(f"{PREFIX}{repo}@{name}", err) from None
        files = [s.rfilename for s in info.siblings or []]
        weights, config = _weights(repo, name, files), "config.json" in files
        rev = Revision(repo, name, step, str(info.sha), weights, config, endpoint())
        if step in found:
            raise CheckpointError(f"'{found[step].label}' and '{rev.label}' are both step {step}")
        found[step] = rev
    return [found[s] for s in sorted(found)]


def _step(name: str, i: int, steps: Sequence[int] | None, count: int) -> int:
    if steps is not None:
        return int(steps[i])
    step = step_from_name(name)
    if step is None and count == 1:
        return 0
    if step is None:
        raise CheckpointError(
            f"cannot tell the step of revision '{name}' from its name; pass --steps"
        )
    return step


def _weights(repo: str, name: str, files: list[str]) -> str:
    """The file to read a revision's weights from: a safetensors index or file first, then
    a PyTorch index or file; only top-level files count."""
    top = sorted(f for f in files if "/" not in f and not _NOT_WEIGHTS.match(f))
    for chosen in (
        [f for f in top if f.endswith(".safetensors.index.json")],
        [f for f in top if f.endswith(".safetensors")],
        [f for f in top if f.endswith((".bin.index.json", ".pt.index.json"))],
        [f for f in top if _TORCH_WEIGHTS.match(f)],
    ):
        if len(chosen) > 1 and chosen[0].endswith(".safetensors"):
            chosen = [f for f in chosen if f == "model.safetensors"] or chosen
        if len(chosen) == 1:
            return chosen[0]
        if chosen:
            raise CheckpointError(
                f"'{PREFIX}{repo}@{name}' holds several weights files "
                f"({', '.join(chosen[:3])}) and no shard index"
            )
    raise CheckpointError(
        f"'{PREFIX}{repo}@{name}' holds no weights (no safetensors or "
        "PyTorch file at its top level)"
    )


def hub_error(what: str, err: Exception) -> CheckpointError:
    """One line for a failure of the Hub client (unknown repository or revision, a missing
    file, a network error)."""
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    if isinstance(err, RepositoryNotFoundError):
        return CheckpointError(f"'{what}': no such repository on {endpoint()} (or no access)")
    if isinstance(err, RevisionNotFoundError):
        return CheckpointError(f"'{what}': the repository has no such revision")
    first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
    return CheckpointError(f"'{what}': cannot fetch from {endpoint()}: {first}")


class Fetcher:
    """Fetches revisions into temporary folders under ``scratch``, at most ``keep`` of
    them on disk at once (the next ones download while the current one is analysed)."""

    def __init__(self, scratch: Path, log: Callable[[str], None] = lambda _: None, keep: int = 1):
        if keep < 1:
            raise ConfigError(f"--keep must be at least 1, got {keep}")
        self.scratch, self.log, self.keep = scratch, log, keep

    @contextmanager
    def fetched(self, rev: Revision) -> Iterator[Checkpoint]:
        """The revision as a local checkpoint; files this fetched are deleted on exit."""
        with self._kept(rev, self._download(rev)) as c:
            yield c

    def series(self, revisions: Sequence[Revision]) -> Generator[Checkpoint, None, None]:
        """Each revision as a local checkpoint, in turn; one's files are deleted when the
        next is asked for (or the generator is closed), and the next ``keep - 1`` download
        meanwhile."""
        with ThreadPoolExecutor(1) as pool:
            ahead: deque[tuple[Revision, Future[Path | None]]] = deque()
            queue = deque(revisions)

            def submit() -> None:
                if queue:
                    rev = queue.popleft()
                    ahead.append((rev, pool.submit(self._download, rev)))

            for _ in range(self.keep):
                submit()
            try:
                while ahead:
                    rev, future = ahead.popleft()
                    with self._kept(rev, future.result()) as c:
                        yield c
                    submit()
            finally:
                for _, future in ahead:  # closed early: what was fetched ahead goes too
                    folder = future.result() if future.exception() is None else None
                    if folder is not None:
                        shutil.rmtree(folder, ignore_errors=True)

    def _download(self, rev: Revision) -> Path | None:
        """A temporary folder holding the revision's files; None if the user's cache has
        them all."""
        if _in_user_cache(rev) is not None:
            return None
        folder = Path(tempfile.mkdtemp(prefix=".hf-", dir=self.scratch))
        try:
            for name in _files(rev, folder):
                _download(rev, name, folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return folder

    @contextmanager
    def _kept(self, rev: Revision, folder: Path | None) -> Iterator[Checkpoint]:
        if folder is None:
            cached = _in_user_cache(rev)
            assert cached is not None
            self.log(f"{rev.label}: read from the Hugging Face cache {user_cache()}")
            yield _checkpoint(rev, cached)
            return
        on_disk = len(list(self.scratch.glob(".hf-*")))
        self.log(
            f"{rev.label}: downloaded to {folder} ({on_disk} of at most {self.keep} "
            f"revision(s) on disk at once, --keep, besides the Hugging Face cache)"
        )
        try:
            yield _checkpoint(rev, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _files(rev: Revision, folder: Path) -> Iterator[str]:
    """The files of a revision, downloading the shard index (if any) to name its shards."""
    if rev.config:
        yield "config.json"
    yield rev.weights
    if rev.weights.endswith(".index.json"):
        yield from _shards(rev, folder / rev.weights)


def _shards(rev: Revision, index: Path) -> list[str]:
    try:
        return sorted(set(json.loads(index.read_text())["weight_map"].values()))
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError, OSError) as err:
        raise CheckpointError(f"'{rev.label}': {rev.weights} is not a shard index: {err}") from None


def _download(rev: Revision, name: str, folder: Path) -> None:
    from huggingface_hub import hf_hub_download

    try:
        hf_hub_download(
            rev.repo, name, revision=rev.commit, local_dir=folder, endpoint=rev.endpoint or None
        )
    except Exception as err:  # every failure of the client becomes one line
        raise hub_error(f"{rev.label} {name}", err) from None


def _in_user_cache(rev: Revision) -> Path | None:
    """The user's cached snapshot folder of ``rev.commit`` if it holds every needed file."""
    from huggingface_hub import try_to_load_from_cache

    def cached(name: str) -> Path | None:
        found = try_to_load_from_cache(rev.repo, name, user_cache(), rev.commit)
        return Path(found) if isinstance(found, str) else None

    weights = cached(rev.weights)
    if weights is None or (rev.config and cached("config.json") is None):
        return None
    if rev.weights.endswith(".index.json"):
        if any(cached(s) is None for s in _shards(rev, weights)):
            return None
    return weights.parent


def _checkpoint(rev: Revision, folder: Path) -> Checkpoint:
    return Checkpoint(Path(rev.label), rev.step, (folder / rev.weights,), read_hints(folder))
