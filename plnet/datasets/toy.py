"""The 2-d binary toy problem of the paper's Figure 1 (Appendix F).

The paper does not publish its toy points; this is a stand-in of the same kind: two
interleaved noisy half-moons in 2-d (the generator of ``plnet demo --train``), labels 0/1,
for a 2-100x4-1 network trained with sigmoid cross-entropy.
"""

from __future__ import annotations

import numpy as np

from plnet.datasets.splits import Splits
from plnet.demo import two_moons

#: points per part by default
TOY_POINTS = 200


def load_toy(n: int = TOY_POINTS, *, seed: int = 0, noise: float = 0.1) -> Splits:
    """The 2-d toy data: ``n`` training points and ``n`` testing points, no validation.

    The paper selects the toy models on the training loss (Appendix F), so ``val`` is
    empty; ``test`` is drawn independently (seed + 1) for checking generalization.

    Args:
        n: points per part.
        seed: seed of the training points (the testing points use ``seed + 1``).
        noise: standard deviation of the Gaussian noise added to the moons.

    Returns:
        :class:`Splits` with ``x`` float32 ``[n, 2]`` and ``y`` int64 in {0, 1}.

    Example:
        >>> import plnet.datasets
        >>> data = plnet.datasets.load_toy(100, seed=0)
        >>> x, y = data.train
        >>> x.shape, x.dtype, sorted(set(y.tolist()))
        ((100, 2), dtype('float32'), [0, 1])
    """
    def part(s):
        x, y = two_moons(n, s, noise)
        return x.astype(np.float32), y.astype(np.int64)

    empty = (np.zeros((0, 2), np.float32), np.zeros(0, np.int64))
    return Splits("toy2d", part(seed), empty, part(seed + 1), classes=2, source="generated")
