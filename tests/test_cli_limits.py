"""The dualdiff command refuses unbounded work with a one-line error and exit status 2.

mpmath's cost grows with the size of an exponent (``9**9**9**9`` at 50
digits would run for hours) and with ``--dps``; the command caps both.
"""

import time

import pytest

from dualdiff.cli import expr
from dualdiff.cli.main import MAX_DPS, main


def run(argv, capsys):
    start = time.perf_counter()
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err, time.perf_counter() - start


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("9**9**9**9*x", "9**9**9: a result of about 2**1,549,681,956 is beyond the limit of 2**100,000"),
        ("exp(1e100000000*x)", "a constant beyond 10**33,333 is not allowed: 1e100000000"),
        ("x**2**2**2**2**2", "2**2**2**2**2: a result of about 2**131,072 is beyond the limit"),
        ("exp(x * 10**6)", "exp(x * 10**6): a result of about 2**2,885,400 is beyond the limit"),
    ],
)
def test_huge_exponents_are_refused_quickly(formula, message, capsys):
    status, out, err, seconds = run(["table", formula, "--at", "x=2", "--dps", "50"], capsys)
    assert status == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1
    assert seconds < 10


def test_the_limit_lets_large_but_bounded_values_through(capsys):
    status, out, _, _ = run(["table", "2**20000*x", "--at", "x=3", "--dps", "30"], capsys)
    assert status == 0 and "e+6020" in out
    assert expr.MAX_MAGNITUDE_BITS == 100_000


def test_dps_is_capped(capsys):
    status, _, err, _ = run(["table", "x", "--at", "x=2", "--dps", str(MAX_DPS + 1)], capsys)
    assert status == 2 and f"--dps must be a number of digits from 1 to {MAX_DPS:,}" in err
    status, out, _, _ = run(["table", "sqrt(x)", "--at", "x=2", "--dps", "300"], capsys)
    assert status == 0
