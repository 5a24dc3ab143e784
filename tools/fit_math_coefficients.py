"""Derive the float32 polynomial coefficients of tc/targets/llvm_math.py.

    python tools/fit_math_coefficients.py

Each polynomial is a weighted minimax fit (the Remez exchange algorithm on a dense grid of
Chebyshev points, in float64) of the function that the module's formula leaves to it:

- ``EXP``: e^r = 1 + r + r^2 Q(r) on |r| <= 0.35 (just over ln2/2, the reduced range),
  relative error.
- ``TANH``: tanh(x) = x + x s P(s), s = x^2, on |x| <= 0.5625, relative error.
- ``ERF_SMALL``: erf(x) = x + x Q(s), s = x^2, on |x| <= 1, relative error.
- ``ERF_LARGE``: erf(x) = 1 - E(x - 2.5) on 1 <= x <= 3.92, absolute error (erf is in
  [0.84, 1) there, so absolute error is error in ulps).

The coefficients are rounded to float32 one at a time, from the highest degree down, the
lower ones refitted after each rounding so that they absorb its error.  The script prints
them as the module's Python literals (each value is exactly a float32) and the float64
error of the rounded polynomial in float32 ulps of the result; the tests in
tests/targets/test_llvm_math.py measure the float32 code itself.
"""
from __future__ import annotations

import math

import numpy as np

# A relative error e is at most e * 2^24 float32 ulps; so is an absolute error in [0.5, 1).
ULPS_PER_ERROR = 2.0 ** 24


def chebyshev_grid(a: float, b: float, n: int = 20000) -> np.ndarray:
    """``n`` Chebyshev points on [a, b], dense near the ends where minimax errors peak."""
    return (a + b) / 2 - (b - a) / 2 * np.cos(np.linspace(0, np.pi, n))


def remez(A: np.ndarray, y: np.ndarray, w: np.ndarray, iters: int = 60):
    """Coefficients c minimizing max_i |w_i (y_i - (A c)_i)| over the grid rows of ``A``
    (columns: the basis functions on the grid).  Returns (c, that maximum)."""
    n = A.shape[1]
    ref = np.linspace(0, len(y) - 1, n + 1).round().astype(int)
    best = (None, np.inf)
    for _ in range(iters):
        # the reference equations: error +-E alternating in sign at the n + 1 points
        sign = (-1.0) ** np.arange(n + 1)
        sol = np.linalg.solve(np.hstack([A[ref], (sign / w[ref])[:, None]]), y[ref])
        e = w * (y - A @ sol[:n])
        if np.abs(e).max() < best[1]:
            best = (sol[:n], np.abs(e).max())
        if np.abs(e).max() <= abs(sol[n]) * (1 + 1e-9):
            break
        # exchange: the extremum of each run of one sign, trimmed at the smaller end
        runs = np.split(np.arange(len(e)), np.flatnonzero(np.diff(np.sign(e)) != 0) + 1)
        ext = [r[np.argmax(np.abs(e[r]))] for r in runs]
        if len(ext) < n + 1:
            break
        while len(ext) > n + 1:
            ext.pop(0 if abs(e[ext[0]]) < abs(e[ext[-1]]) else -1)
        ref = np.array(ext)
    return best


def fit_float32(t: np.ndarray, degree: int, target: np.ndarray, weight: np.ndarray):
    """Float32 coefficients (lowest degree first) of a polynomial in ``t`` approximating
    ``target`` minimax in ``weight`` * error; returns them and that error."""
    A = np.stack([t ** k for k in range(degree + 1)], axis=1)
    coefs: list[float] = []
    for k in range(degree + 1, 0, -1):
        rest = A[:, k:] @ np.array(coefs) if coefs else 0.0
        c, _ = remez(A[:, :k], target - rest, weight)
        coefs.insert(0, float(np.float32(c[-1])))
    return coefs, np.abs(weight * (target - A @ np.array(coefs))).max()


def _series(t: np.ndarray, coefs: list[float]) -> np.ndarray:
    return sum(c * t ** k for k, c in enumerate(coefs))


def exp_fit():
    """Q with e^r = 1 + r + r^2 Q(r); error relative to e^r."""
    r = chebyshev_grid(-0.35, 0.35)  # an even count: no point at r = 0, where weight is 0
    small = np.abs(r) < 1e-2  # (expm1(r) - r) / r^2 cancels there: use its Taylor series
    safe = np.where(small, 1.0, r)
    target = np.where(small, _series(r, [1 / math.factorial(k + 2) for k in range(6)]),
                      (np.expm1(safe) - safe) / safe ** 2)
    return fit_float32(r, 4, target, r * r / np.exp(r))


def tanh_fit():
    """P with tanh(x) = x + x s P(s), s = x^2; error relative to tanh(x)."""
    s = chebyshev_grid(1e-10, 0.5625 ** 2)
    x = np.sqrt(s)
    small = s < 1e-2  # (tanh(x) - x) / x^3 cancels there: use its Taylor series
    safe = np.where(small, 1.0, x)
    series = _series(s, [-1 / 3, 2 / 15, -17 / 315, 62 / 2835, -1382 / 155925,
                         21844 / 6081075])
    target = np.where(small, series, (np.tanh(safe) - safe) / safe ** 3)
    return fit_float32(s, 4, target, s * x / np.tanh(x))


def erf_small_fit():
    """Q with erf(x) = x + x Q(s), s = x^2; error relative to erf(x)."""
    s = chebyshev_grid(0.0, 1.0)
    x = np.sqrt(s)
    safe = np.where(x == 0, 1.0, x)
    ratio = np.where(x == 0, 2 / math.sqrt(math.pi), np.vectorize(math.erf)(safe) / safe)
    return fit_float32(s, 6, ratio - 1, 1 / ratio)


def erf_large_fit():
    """E with erf(x) = 1 - E(x - 2.5) on [1, 3.92]; absolute error."""
    x = chebyshev_grid(1.0, 3.92)
    return fit_float32(x - 2.5, 14, np.vectorize(math.erfc)(x), np.ones_like(x))


FITS = {"EXP": exp_fit, "TANH": tanh_fit, "ERF_SMALL": erf_small_fit,
        "ERF_LARGE": erf_large_fit}


def main() -> None:
    for name, fit in FITS.items():
        coefs, err = fit()
        print(f"# {name}: at most {err * ULPS_PER_ERROR:.3f} ulp before float32 evaluation")
        body = "".join(f"\n    {c!r}," for c in coefs)
        print(f"_{name} = ({body}\n)")


if __name__ == "__main__":
    main()
