"""The paper's one-number scores of alignment (Eq. 4) and agreement (Eq. 5): the mean of
the first ``SCORE_K`` diagonal entries (all of them where fewer vectors were kept). Torch-free,
so that commands that only read tables (``specdyn show``) can say what a score averages."""

SCORE_K = 10


def score_k(kept: int) -> int:
    """The entries a score averages when ``kept`` vectors were kept."""
    return min(SCORE_K, kept)
