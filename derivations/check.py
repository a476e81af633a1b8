"""Checks for symbolic derivations: numeric equality, limits, series, and a step registry.

This module is the reusable core of :mod:`lindiff.derivations`, written in the manner of
NRPy+'s ``validate_expressions``: a symbolic result is trusted only after it has been

(a) simplified to the expected form where SymPy can (:func:`symbolic_equal`),
(b) evaluated at deterministic pseudo-random points, seeded by hashing the names of the free
    symbols, in mpmath at 50 significant digits (:func:`numeric_equal`), and
(c) checked in its limits and series (:func:`limit_equal`, :func:`series_equal`).

Every helper returns a :class:`CheckResult` (``name``, ``passed``, ``detail``) instead of
raising, so that a derivation can report all its checks at once. A :class:`Derivation`
collects the steps of one topic, each with its expression (rendered with ``sympy.latex`` in the
generated docs) and its checks. A :class:`Check` remembers the helper and its arguments, so a
test can re-run it with a perturbed expression (``check.run(lhs=-lhs)``) and assert that it
fails.

Examples
--------
>>> import sympy as sp
>>> from lindiff.derivations.check import numeric_equal, symbolic_equal, series_equal
>>> x, y = sp.symbols("x y", positive=True)
>>> numeric_equal(sp.log(x * y), sp.log(x) + sp.log(y)).passed
True
>>> numeric_equal(sp.log(x * y), sp.log(x) - sp.log(y)).passed
False
>>> symbolic_equal(sp.sin(x)**2 + sp.cos(x)**2, 1).passed
True
>>> series_equal(sp.exp(x), x, 0, 3, 1 + x + x**2 / 2).passed
True
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from typing import Any, Callable, Iterable, Mapping, Sequence

import mpmath
import sympy as sp

__all__ = [
    "CheckResult",
    "Check",
    "Lazy",
    "Step",
    "Derivation",
    "sample_point",
    "evaluate",
    "numeric_equal",
    "numeric_value",
    "symbolic_equal",
    "limit_equal",
    "series_equal",
    "predicate",
    "DEFAULT_DPS",
]

#: Working precision (significant decimal digits) of every numeric check.
DEFAULT_DPS = 50

Domain = Mapping[sp.Symbol, Any]


# --------------------------------------------------------------------------- results
@dataclasses.dataclass
class CheckResult:
    """Outcome of one check.

    Attributes
    ----------
    name : str
        What was checked, e.g. ``"replica/saddle: kappa equation (numeric)"``.
    passed : bool
        Whether the check passed.
    detail : str
        A one-line human-readable account: the method, the worst relative deviation, the point.
    kind : str
        ``"symbolic"``, ``"numeric"``, ``"limit"``, ``"series"``, ``"trusted"`` or ``"custom"``.
    seconds : float
        Wall time spent in the check.
    """

    name: str
    passed: bool
    detail: str
    kind: str = "custom"
    seconds: float = 0.0

    def __bool__(self) -> bool:  # pragma: no cover - convenience
        return bool(self.passed)


# --------------------------------------------------------------------------- points
def _hash_unit(text: str) -> mpmath.mpf:
    """A number in (0, 1) with 256 pseudo-random bits derived from ``text``."""
    h = int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")
    return (mpmath.mpf(h) + mpmath.mpf(1) / 2) / mpmath.mpf(2) ** 256


def _default_range(sym: sp.Symbol) -> tuple[Any, Any]:
    if sym.is_integer:
        raise ValueError(
            f"symbol {sym} is an integer: give its range in `domain` (e.g. {{{sym}: (3, 9)}})"
        )
    if sym.is_positive or sym.is_nonnegative:
        return (sp.Rational(1, 5), 2)
    return (-2, 2)


def sample_point(
    symbols: Iterable[sp.Symbol],
    *,
    domain: Domain | None = None,
    salt: str = "",
    index: int = 0,
    dps: int = DEFAULT_DPS,
) -> dict[sp.Symbol, Any]:
    """Deterministic pseudo-random point for ``symbols``, seeded by hashing their names.

    Parameters
    ----------
    symbols : iterable of sympy.Symbol
        The free symbols to assign.
    domain : mapping, optional
        Per-symbol ranges ``{sym: (lo, hi)}`` (a uniform draw; integers for integer symbols,
        inclusive) or fixed values ``{sym: value}``. Symbols without an entry get (1/5, 2) when
        declared positive or non-negative and (-2, 2) otherwise; integer symbols need an entry.
    salt : str
        Extra text mixed into the hash (use it to get independent points for one expression).
    index : int
        Which point of the sequence (0, 1, 2, ...).
    dps : int
        mpmath precision of the returned values.

    Returns
    -------
    dict
        ``{symbol: mpmath.mpf or int}``; the same arguments always give the same point.

    Examples
    --------
    >>> import sympy as sp
    >>> x, n = sp.symbols("x"), sp.Symbol("n", integer=True)
    >>> p = sample_point([x, n], domain={n: (3, 9)})
    >>> p == sample_point([n, x], domain={n: (3, 9)})   # order does not matter
    True
    >>> 3 <= p[n] <= 9 and -2 < p[x] < 2
    True
    """
    syms = sorted(set(symbols), key=lambda s: s.name)
    domain = dict(domain or {})
    key = ",".join(s.name for s in syms) + "|" + salt + "|" + str(index)
    out: dict[sp.Symbol, Any] = {}
    with mpmath.workdps(dps + 10):
        for s in syms:
            spec = domain.get(s, None)
            if spec is None:
                spec = _default_range(s)
            if not isinstance(spec, (tuple, list)):
                out[s] = spec if isinstance(spec, int) else mpmath.mpf(sp.sympify(spec).evalf(dps + 10))
                continue
            lo, hi = spec
            u = _hash_unit(key + ":" + s.name)
            if s.is_integer:
                lo_i, hi_i = int(lo), int(hi)
                out[s] = lo_i + int(mpmath.floor(u * (hi_i - lo_i + 1)))
            else:
                lo_m = mpmath.mpf(sp.sympify(lo).evalf(dps + 10))
                hi_m = mpmath.mpf(sp.sympify(hi).evalf(dps + 10))
                out[s] = lo_m + (hi_m - lo_m) * u
    return out


# --------------------------------------------------------------------------- evaluation
def evaluate(expr: Any, point: Mapping[sp.Symbol, Any], *, dps: int = DEFAULT_DPS) -> Any:
    """Evaluate a SymPy expression at ``point`` in mpmath with ``dps`` digits.

    Uses ``sympy.lambdify(..., "mpmath")``; expressions that lambdify cannot print (unevaluated
    integrals with symbolic limits, special functions without an mpmath name) fall back to
    ``evalf``.

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x", positive=True)
    >>> import mpmath
    >>> mpmath.nstr(evaluate(sp.sqrt(x), {x: 2}, dps=30), 20)
    '1.4142135623730950488'
    """
    expr = sp.sympify(expr)
    free = sorted(expr.free_symbols, key=lambda s: s.name)
    missing = [s for s in free if s not in point]
    if missing:
        raise ValueError(f"no value for symbol(s) {missing} in the evaluation point")
    with mpmath.workdps(dps):
        args = [mpmath.mpf(point[s]) if not isinstance(point[s], (int, mpmath.mpc)) else point[s] for s in free]
        try:
            fn = sp.lambdify(free, expr, modules="mpmath")
            val = fn(*args)
        except Exception:  # fall back to evalf
            val = sp.N(expr.subs({s: sp.Float(str(point[s]), dps) if not isinstance(point[s], int) else point[s] for s in free}), dps)
            val = mpmath.mpmathify(complex(val)) if not val.is_real else mpmath.mpf(str(val))
        return val


def _rel_dev(a: Any, b: Any) -> Any:
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale != 0 else mpmath.mpf(0)


def numeric_equal(
    lhs: Any,
    rhs: Any,
    *,
    name: str = "numeric equality",
    domain: Domain | None = None,
    points: int = 3,
    dps: int = DEFAULT_DPS,
    rtol: float | None = None,
    atol: float | None = None,
    salt: str = "",
    where: Callable[[dict], bool] | None = None,
) -> CheckResult:
    """Check ``lhs == rhs`` at deterministic pseudo-random points in mpmath.

    The points come from :func:`sample_point` (seeded by hashing the free symbols' names, so
    a run is reproducible and independent of dict order). The check passes when at every point
    ``|lhs - rhs| <= rtol * max(|lhs|, |rhs|) + atol``.

    Parameters
    ----------
    lhs, rhs : sympy expressions (or numbers)
    name : str
        Label of the result.
    domain : mapping, optional
        Ranges or fixed values per symbol (see :func:`sample_point`).
    points : int
        How many points to try.
    dps : int
        Working precision in decimal digits (50 by default).
    rtol, atol : float, optional
        Tolerances; default ``10**-(dps - 15)`` each (1e-35 at 50 digits), which no algebra
        error survives but which tolerates the cancellation of a few digits.
    salt : str
        Mixed into the seed, to draw a different sequence of points.
    where : callable, optional
        A predicate on the point (a dict symbol -> value); points failing it are skipped and
        redrawn (at most 50 tries per point), e.g. ``lambda p: p[N] > p[d] + 3``.

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x", positive=True)
    >>> numeric_equal(sp.exp(2 * sp.log(x)), x**2).passed
    True
    >>> r = numeric_equal(sp.exp(2 * sp.log(x)), 2 * x**2)   # a missing factor is caught
    >>> r.passed, r.detail.startswith("FAILED")
    (False, True)
    """
    t0 = time.perf_counter()
    lhs, rhs = sp.sympify(lhs), sp.sympify(rhs)
    syms = (lhs.free_symbols | rhs.free_symbols)
    rtol_m = mpmath.mpf(10) ** (-(dps - 15)) if rtol is None else mpmath.mpf(rtol)
    atol_m = mpmath.mpf(10) ** (-(dps - 15)) if atol is None else mpmath.mpf(atol)
    worst = mpmath.mpf(0)
    worst_abs = mpmath.mpf(0)
    worst_at = None
    ok = True
    tried = 0
    used = 0
    idx = 0
    with mpmath.workdps(dps):
        while used < points:
            if tried > 50 * points:
                return CheckResult(name, False, "FAILED: no admissible point found (check `where`)",
                                   "numeric", time.perf_counter() - t0)
            p = sample_point(syms, domain=domain, salt=salt, index=idx, dps=dps)
            idx += 1
            tried += 1
            if where is not None and not where(p):
                continue
            used += 1
            try:
                a = evaluate(lhs, p, dps=dps)
                b = evaluate(rhs, p, dps=dps)
            except Exception as exc:  # an evaluation error is a failure, not a crash
                return CheckResult(name, False, f"FAILED: evaluation error {exc!r}", "numeric",
                                   time.perf_counter() - t0)
            diff = abs(a - b)
            if not (diff <= rtol_m * max(abs(a), abs(b)) + atol_m):
                ok = False
            dev = _rel_dev(a, b)
            worst_abs = max(worst_abs, diff)
            if dev >= worst:
                worst, worst_at = dev, p
    at = ", ".join(f"{s}={mpmath.nstr(v, 6) if not isinstance(v, int) else v}" for s, v in (worst_at or {}).items())
    detail = (f"{'ok' if ok else 'FAILED'}: {points} point(s) at {dps} digits, "
              f"max |lhs-rhs| {mpmath.nstr(worst_abs, 3)}, max rel. deviation {mpmath.nstr(worst, 3)} "
              f"(rtol {mpmath.nstr(rtol_m, 2)}, atol {mpmath.nstr(atol_m, 2)})"
              + (f"; worst at {at}" if at else ""))
    return CheckResult(name, ok, detail, "numeric", time.perf_counter() - t0)


def numeric_value(
    value: Any,
    expected: Any,
    *,
    name: str = "numeric value",
    rtol: float = 1e-35,
    atol: float = 0.0,
    dps: int = DEFAULT_DPS,
    kind: str = "numeric",
) -> CheckResult:
    """Compare two numbers (mpmath, SymPy or float) with a relative tolerance.

    Used for trusted values and for results of numeric procedures (root finding, quadrature).

    Examples
    --------
    >>> import mpmath
    >>> numeric_value(mpmath.pi, "3.14159265358979323846264338327950288419716939937510").passed
    True
    >>> numeric_value(3.0, 3.1, rtol=1e-3).passed
    False
    """
    t0 = time.perf_counter()
    with mpmath.workdps(dps):
        a = mpmath.mpmathify(value) if not isinstance(value, sp.Basic) else mpmath.mpmathify(str(sp.N(value, dps)))
        b = mpmath.mpmathify(expected) if not isinstance(expected, sp.Basic) else mpmath.mpmathify(str(sp.N(expected, dps)))
        diff = abs(a - b)
        ok = bool(diff <= mpmath.mpf(rtol) * max(abs(a), abs(b)) + mpmath.mpf(atol))
        detail = (f"{'ok' if ok else 'FAILED'}: value {mpmath.nstr(a, 20)} vs expected {mpmath.nstr(b, 20)}, "
                  f"rel. deviation {mpmath.nstr(_rel_dev(a, b), 3)} (tol {rtol:g})")
    return CheckResult(name, ok, detail, kind, time.perf_counter() - t0)


# --------------------------------------------------------------------------- symbolic
def symbolic_equal(
    lhs: Any,
    rhs: Any,
    *,
    name: str = "symbolic equality",
    simplifier: Callable[[sp.Expr], sp.Expr] = sp.simplify,
) -> CheckResult:
    """Check ``lhs == rhs`` by simplifying ``lhs - rhs`` to zero.

    A failure here only means that ``simplifier`` could not prove the identity (SymPy's
    simplification is incomplete); pair it with :func:`numeric_equal`, which can refute one.

    Parameters
    ----------
    lhs, rhs : sympy expressions
    name : str
    simplifier : callable
        Applied to ``lhs - rhs``; ``sympy.simplify`` by default. Cheaper choices such as
        ``sympy.cancel`` or ``lambda e: sympy.expand(e)`` are often enough and much faster.

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> symbolic_equal((x**2 - 1) / (x - 1), x + 1, simplifier=sp.cancel).passed
    True
    >>> symbolic_equal((x**2 - 1) / (x - 1), x - 1, simplifier=sp.cancel).passed
    False
    """
    t0 = time.perf_counter()
    diff = simplifier(sp.sympify(lhs) - sp.sympify(rhs))
    ok = diff == 0
    detail = "ok: difference simplifies to 0" if ok else f"FAILED: difference simplifies to {sp.sstr(diff)[:200]}"
    return CheckResult(name, bool(ok), detail, "symbolic", time.perf_counter() - t0)


def limit_equal(
    expr: Any,
    var: sp.Symbol,
    point: Any,
    expected: Any,
    *,
    name: str = "limit",
    dir: str = "+",
    simplifier: Callable[[sp.Expr], sp.Expr] = sp.simplify,
    numeric_fallback: bool = True,
    domain: Domain | None = None,
) -> CheckResult:
    """Check ``lim_{var -> point} expr == expected`` with ``sympy.limit``.

    If the difference of the limit and ``expected`` does not simplify to zero and
    ``numeric_fallback`` is true, it is compared numerically at pseudo-random points of the
    remaining symbols.

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x", positive=True)
    >>> limit_equal(sp.sin(x) / x, x, 0, 1).passed
    True
    >>> limit_equal((1 + x)**(1 / x), x, 0, sp.E).passed
    True
    >>> limit_equal(sp.sin(x) / x, x, 0, 2).passed
    False
    """
    t0 = time.perf_counter()
    try:
        lim = sp.limit(sp.sympify(expr), var, point, dir=dir)
    except Exception as exc:
        return CheckResult(name, False, f"FAILED: sympy.limit raised {exc!r}", "limit", time.perf_counter() - t0)
    if lim.has(sp.Limit):
        return CheckResult(name, False, f"FAILED: sympy could not evaluate the limit ({lim})", "limit",
                           time.perf_counter() - t0)
    expected = sp.sympify(expected)
    diff = sp.S.Zero if lim == expected else simplifier(lim - expected)
    if diff == 0:
        return CheckResult(name, True, f"ok: limit {var}->{point}{dir if point in (0, sp.S.Zero) else ''} "
                           f"is {sp.sstr(lim)[:120]}", "limit", time.perf_counter() - t0)
    if numeric_fallback and diff.free_symbols and not lim.has(sp.oo, -sp.oo, sp.zoo):
        r = numeric_equal(lim, expected, name=name, domain=domain)
        return CheckResult(name, r.passed, "limit then " + r.detail, "limit", time.perf_counter() - t0)
    return CheckResult(name, False, f"FAILED: limit is {sp.sstr(lim)[:160]}, expected {sp.sstr(expected)[:160]}",
                       "limit", time.perf_counter() - t0)


def series_equal(
    expr: Any,
    var: sp.Symbol,
    point: Any,
    order: int,
    expected: Any,
    *,
    name: str = "series",
    simplifier: Callable[[sp.Expr], sp.Expr] = sp.simplify,
    numeric_fallback: bool = True,
    domain: Domain | None = None,
) -> CheckResult:
    """Check that the series of ``expr`` at ``var = point`` up to (not including) ``var**order``
    equals ``expected``.

    ``point`` may be ``sympy.oo`` (an expansion in ``1/var``). The truncated series is
    compared with ``expected`` symbolically and, if that is inconclusive, numerically.

    Examples
    --------
    >>> import sympy as sp
    >>> q = sp.Symbol("q", positive=True)
    >>> series_equal(-sp.log(1 - q), q, 0, 3, q + q**2 / 2).passed
    True
    >>> series_equal(-sp.log(1 - q), q, 0, 3, q + q**2 / 3).passed
    False
    >>> N = sp.Symbol("N", positive=True)
    >>> series_equal(1 / (N - 1), N, sp.oo, 3, 1 / N + 1 / N**2).passed
    True
    """
    t0 = time.perf_counter()
    expr = sp.sympify(expr)
    try:
        if point in (sp.oo, sp.S.Infinity):
            u = sp.Dummy("u", positive=True)
            ser = sp.series(expr.subs(var, 1 / u), u, 0, order).removeO().subs(u, 1 / var)
        else:
            ser = sp.series(expr, var, point, order).removeO()
    except Exception as exc:
        return CheckResult(name, False, f"FAILED: sympy.series raised {exc!r}", "series", time.perf_counter() - t0)
    diff = simplifier(sp.expand(ser - sp.sympify(expected)))
    if diff == 0:
        return CheckResult(name, True, f"ok: series to order {order} matches", "series", time.perf_counter() - t0)
    if numeric_fallback and diff.free_symbols:
        r = numeric_equal(ser, expected, name=name, domain=domain)
        return CheckResult(name, r.passed, "series then " + r.detail, "series", time.perf_counter() - t0)
    return CheckResult(name, False, f"FAILED: series is {sp.sstr(ser)[:160]}", "series", time.perf_counter() - t0)


def predicate(ok: bool, detail: str, *, name: str = "predicate", kind: str = "custom") -> CheckResult:
    """Wrap a boolean fact (e.g. a sign or an inequality established elsewhere) as a result.

    Examples
    --------
    >>> predicate(2 > 1, "two exceeds one").passed
    True
    """
    return CheckResult(name, bool(ok), ("ok: " if ok else "FAILED: ") + detail, kind)


# --------------------------------------------------------------------------- registry
class Lazy:
    """An argument of a :class:`Check` computed only when the check runs (keeps builds cheap).

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> c = Check("demo", symbolic_equal, {"lhs": Lazy(lambda: sp.expand((x + 1)**2)), "rhs": x**2 + 2*x + 1})
    >>> c.run().passed
    True
    """

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn

    def __call__(self) -> Any:
        return self.fn()


@dataclasses.dataclass
class Check:
    """A named, re-runnable check: a helper function and its keyword arguments.

    ``run()`` calls ``func(**kwargs)``; ``run(lhs=...)`` overrides an argument, which is how
    tests perturb an expression and assert that the check then fails.
    """

    name: str
    func: Callable[..., CheckResult]
    kwargs: dict[str, Any]
    fast: bool = True

    def run(self, **overrides: Any) -> CheckResult:
        t0 = time.perf_counter()
        try:
            kw = {k: (v() if isinstance(v, Lazy) else v) for k, v in {**self.kwargs, **overrides}.items()}
            res = self.func(**kw)
        except Exception as exc:  # a crashing check is a failed check
            res = CheckResult(self.name, False, f"FAILED: raised {exc!r}", "custom")
        res.name = self.name
        res.seconds = time.perf_counter() - t0
        return res


@dataclasses.dataclass
class Step:
    """One step of a derivation: a named expression, its explanation and its checks."""

    key: str
    title: str
    expr: Any
    text: str = ""
    checks: list[Check] = dataclasses.field(default_factory=list)


class Derivation:
    """An ordered collection of steps with their checks (one per topic / module).

    Parameters
    ----------
    name : str
        Short name, e.g. ``"replica"``.
    title : str
        Page title.
    assumptions : str
        The stated assumptions, in Markdown.

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x", positive=True)
    >>> D = Derivation("demo", "A demo", "x > 0")
    >>> e = D.step("sq", "square of a root", sp.sqrt(x)**2)
    >>> D.check("sq", "equals x", symbolic_equal, lhs=e, rhs=x)
    >>> [r.passed for r in D.run()]
    [True]
    """

    def __init__(self, name: str, title: str, assumptions: str = "", intro: str = "") -> None:
        self.name = name
        self.title = title
        self.assumptions = assumptions
        self.intro = intro
        self.steps: list[Step] = []
        self.results: dict[str, Any] = {}

    def step(self, key: str, title: str, expr: Any, text: str = "") -> Any:
        """Register a step and return its expression (so derivations read top-down)."""
        self.steps.append(Step(key, title, expr, text))
        self.results[key] = expr
        return expr

    def _find(self, key: str) -> Step:
        for s in self.steps:
            if s.key == key:
                return s
        raise KeyError(f"{self.name}: no step {key!r}")

    def check(self, key: str, label: str, func: Callable[..., CheckResult], *, fast: bool = True,
              **kwargs: Any) -> None:
        """Attach a check (``func(**kwargs)``) to the step ``key``."""
        step = self._find(key)
        step.checks.append(Check(f"{self.name}/{key}: {label}", func, kwargs, fast))

    def set_slow(self, *fragments: str) -> None:
        """Exclude the checks whose label contains one of ``fragments`` from the fast subset
        (``run(fast=True)``, used by ``lindiff selftest``); they still run in the full suite."""
        for c in self.all_checks():
            if any(f in c.name for f in fragments):
                c.fast = False

    def all_checks(self) -> list[Check]:
        return [c for s in self.steps for c in s.checks]

    def get_check(self, name_fragment: str) -> Check:
        """The unique check whose name contains ``name_fragment``."""
        hits = [c for c in self.all_checks() if name_fragment in c.name]
        if len(hits) != 1:
            raise KeyError(f"{len(hits)} checks match {name_fragment!r}: {[c.name for c in hits]}")
        return hits[0]

    def run(self, fast: bool = False) -> list[CheckResult]:
        """Run the checks (only the fast ones when ``fast``) and return their results."""
        return [c.run() for c in self.all_checks() if c.fast or not fast]


# --------------------------------------------------------------------------- trusted values
def load_trusted(path: str) -> dict[str, str]:
    """Read a trusted-values JSON file (``{key: decimal string}``)."""
    with open(path) as fh:
        return {k: v for k, v in json.load(fh).items() if not k.startswith("_")}
