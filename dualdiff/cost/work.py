"""Work vectors and weights: the units of the cost model.

Work is a vector ``Work(moves, adds, mults, nlops)`` -- memory reads and
writes, additions and subtractions, multiplications and divisions, nonlinear
operations -- counted per array element, and one number ``OPS = w . Work``
with weights ``w = (mu, 1, pi, nu)`` (Griewank & Walther's notation; all 1
by default).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

Shape = tuple[int, ...]


class Weights(NamedTuple):
    """Weights of the four kinds of work: ``OPS = w . Work`` (G&W's ``(mu, 1, pi, nu)``).

    >>> Weights(moves=2).moves
    2
    """

    moves: float = 1
    adds: float = 1
    mults: float = 1
    nlops: float = 1


#: Every kind of work counts 1: the default, and the weights the bounds are quoted for.
UNIT = Weights()


class Work(NamedTuple):
    """Element operations by kind: memory moves, additions, multiplications, nonlinear ops.

    ``+`` adds work, ``*`` by an integer repeats it, :meth:`total` weighs it.

    >>> w = Work(moves=3, mults=1)
    >>> w + w, 2 * w, w.total()
    (Work(moves=6, adds=0, mults=2, nlops=0), Work(moves=6, adds=0, mults=2, nlops=0), 4)
    """

    moves: int = 0
    adds: int = 0
    mults: int = 0
    nlops: int = 0

    def __add__(self, other: Any) -> Work:
        return Work(self[0] + other[0], self[1] + other[1], self[2] + other[2], self[3] + other[3])

    def __mul__(self, k: Any) -> Work:
        return Work(self[0] * k, self[1] * k, self[2] * k, self[3] * k)

    def __rmul__(self, k: Any) -> Work:
        return Work(self[0] * k, self[1] * k, self[2] * k, self[3] * k)

    def total(self, weights: Weights = UNIT) -> Any:
        """The weighted sum ``w . Work`` (an int under integer weights)."""
        w = weights
        return w.moves * self.moves + w.adds * self.adds + w.mults * self.mults + w.nlops * self.nlops

    def le(self, other: Work) -> bool:
        """True when no kind of work exceeds ``other``'s (so for any non-negative weights)."""
        return all(a <= b for a, b in zip(self, other))


ZERO = Work()
#: Positions of the kinds of work in a Work vector.
MOVES, ADDS, MULTS, NLOPS = range(4)


def size(shape: Shape) -> int:
    """The number of elements of an array of ``shape``."""
    return math.prod(shape)
