"""How sure a rate is: 95% intervals by bootstrap over the questions.

A rate over a handful of questions (a type with n=2) says little; its interval says how little.
The bootstrap resamples the questions with replacement and takes the middle 95% of the
resampled means. When every question scores the same (2 of 2 passed) every resample agrees
and the bootstrap shows no uncertainty at all, which is wrong; there the Wilson score interval
for a proportion of n is given instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

RESAMPLES = 2000  # resamples per interval: the bounds move by < 0.01 between seeds at n=112
LEVEL = 0.95  # the intervals' coverage
SEED = 20240616  # fixed, so that a report is the same when the run is
Z = 1.959964  # the normal quantile for LEVEL, used by the Wilson interval

Interval = tuple[float, float]


def bootstrap_interval(
    values: Sequence[float], resamples: int = RESAMPLES, seed: int = SEED
) -> Interval | None:
    """The 95% interval of the mean of ``values`` (each in [0, 1]); None when there are none.

    Args:
        values: one score per question (1.0/0.0 for pass/fail, or a share such as recall).
        resamples: bootstrap resamples.
        seed: the random generator's seed.
    """
    if not values:
        return None
    data = np.asarray(values, dtype=float)
    if np.all(data == data[0]):
        return wilson_interval(float(data[0]), len(data))
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def wilson_interval(share: float, n: int) -> Interval:
    """The Wilson score interval of a proportion ``share`` observed over ``n`` questions."""
    centre = (share + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(share * (1 - share) / n + Z * Z / (4 * n * n))
    return round(max(0.0, centre - half), 6), round(min(1.0, centre + half), 6)
