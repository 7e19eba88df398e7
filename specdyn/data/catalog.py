"""Where the real data sets come from, with the checksums a download must match.

Every SHA-256 below is the one that maintained tooling checks (torchvision/torchaudio,
Keras, TensorFlow Datasets) and that independent projects repeat; none could be recomputed
here, as these machines cannot reach the hosts. ``md5`` is the value the data set's own page
publishes, where it publishes one; ``fetch`` checks only ``sha256``. Mirrors serve the same
bytes, so the same checksum guards them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """A downloadable file: official URL, SHA-256 (None when unknown), mirrors."""

    url: str
    sha256: str | None
    md5: str | None = None
    mirrors: tuple[str, ...] = ()

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


_KRIZ = "https://www.cs.toronto.edu/~kriz"
_MNIST = "https://yann.lecun.com/exdb/mnist"
_MNIST_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist"
_OPENSLR = "https://www.openslr.org/resources/12"


def _mnist(name: str, sha256: str) -> Source:
    return Source(f"{_MNIST}/{name}", sha256, mirrors=(f"{_MNIST_MIRROR}/{name}",))


SOURCES: dict[str, Source] = {
    "cifar10-binary": Source(
        f"{_KRIZ}/cifar-10-binary.tar.gz",
        "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
        md5="c32a1d4ab5d03f1284b67883e8d87530",
    ),
    "cifar10-python": Source(
        f"{_KRIZ}/cifar-10-python.tar.gz",
        "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        md5="c58f30108f718f92721af3b95e74349a",
    ),
    "mnist-train-images": _mnist(
        "train-images-idx3-ubyte.gz",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ),
    "mnist-train-labels": _mnist(
        "train-labels-idx1-ubyte.gz",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ),
    "mnist-test-images": _mnist(
        "t10k-images-idx3-ubyte.gz",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ),
    "mnist-test-labels": _mnist(
        "t10k-labels-idx1-ubyte.gz",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
    "librispeech-train-clean-100": Source(
        f"{_OPENSLR}/train-clean-100.tar.gz",
        "d4ddd1d5a6ab303066f14971d768ee43278a5f2a0aa43dc716b0e64ecbbbf6e2",
    ),
    "librispeech-dev-clean": Source(
        f"{_OPENSLR}/dev-clean.tar.gz",
        "76f87d090650617fca0cac8f88b9416e0ebf80350acb97b343a85fa903728ab3",
    ),
    "wikitext-103-raw": Source(
        "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-103-raw-v1.zip",
        "91c00ae287f0d699e18605c84afc9e45c192bc6b7797ff8837e5474655a33794",
        mirrors=("https://wikitext.smerity.com/wikitext-103-raw-v1.zip",),
    ),
}

# Which sources each loader needs, in the folder layout the loader expects after extract().
DATASETS: dict[str, tuple[str, ...]] = {
    "cifar10": ("cifar10-binary",),
    "mnist": ("mnist-train-images", "mnist-train-labels", "mnist-test-images", "mnist-test-labels"),
    "librispeech": ("librispeech-train-clean-100", "librispeech-dev-clean"),
    "wikitext-103": ("wikitext-103-raw",),
}
