"""Variance estimation from small sums: Taylor linearisation and replicate weights.

:class:`TaylorLayout` reproduces R's ``survey:::svyrecvar`` (``multistage``,
``onestage``, ``onestrat``) for a stratified multistage design, vectorised over
all cells of a breakdown at once: given the linearised variable summed per
cell x unit of the deepest stage, it returns the variance of every cell's
estimate, with finite-population corrections, the second (and later) stage
contributions when fpcs are given, and the lonely-PSU policies.
:func:`replicate_variance` is R's ``svrVar``. :func:`t_quantile` and
:func:`normal_quantile` give interval factors (no SciPy needed);
:func:`quantile_math` is R's ``qrule_math``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from migprofile.compute.design import LonelyPSU, LonelyPSUError
from migprofile.compute.engine import StageTable

__all__ = [
    "TaylorLayout",
    "normal_quantile",
    "quantile_math",
    "replicate_rank",
    "replicate_variance",
    "t_quantile",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Below this sampling correction (1 - n/N) a stratum is self-representing: no
#: variance (R's threshold).
SELF_REPRESENTING = 1e-7


def _unique_inverse(keys: IntArray) -> tuple[IntArray, IntArray]:
    uniq, inverse = np.unique(keys, return_inverse=True)
    return uniq.astype(np.int64), inverse.reshape(-1).astype(np.int64)


@dataclass(frozen=True)
class _Stage:
    """One stage of a layout: records -> (cell, unit) -> (cell, stratum) -> call."""

    stage: int
    inv_unit: IntArray  # row of the layout -> (cell, unit) index
    unit_cell: IntArray  # (cell, unit) -> cell
    inv_group: IntArray  # (cell, unit) -> (cell, stratum) index
    group_cell: IntArray  # (cell, stratum) -> cell
    group_stratum: IntArray  # (cell, stratum) -> stratum code
    group_n: FloatArray  # units of the stratum in the design
    group_rows: FloatArray  # (cell, unit) entries of the group in the layout
    group_f: FloatArray  # 1 - n/N (1 without fpc)
    group_chain: FloatArray  # product of the sampling fractions of the stages above
    inv_call: IntArray  # (cell, stratum) -> call (cell at stage 1; cell x parent unit below)
    call_cell: IntArray  # call -> cell
    labels: tuple[str, ...]  # stratum code -> label


@dataclass(frozen=True)
class TaylorLayout:
    """The grouping structure of a set of (cell, unit) entries under a design.

    Built once per breakdown from the cell and deepest-stage unit of every
    entry (a cell x unit total, or a record); then :meth:`variance` and
    :meth:`df` cost a few ``bincount`` passes per estimate.
    """

    ncells: int
    stages: tuple[_Stage, ...]

    @classmethod
    def build(
        cls,
        cell: IntArray,
        unit: IntArray,
        ncells: int,
        tables: Sequence[StageTable],
    ) -> TaylorLayout:
        """The layout of entries with cell codes ``cell`` and unit codes ``unit``
        (at the deepest stage of ``tables``)."""
        cell = np.asarray(cell, dtype=np.int64)
        units_at = [np.asarray(unit, dtype=np.int64)]
        for table in reversed(tables[1:]):
            parent = table.units["parent"].to_numpy(dtype=np.int64)
            units_at.append(parent[units_at[-1]])
        units_at.reverse()  # units_at[s] = unit code at stage s + 1
        stages: list[_Stage] = []
        chain_prev: FloatArray | None = None
        frac_prev: FloatArray | None = None
        stratum_prev: IntArray | None = None
        for s, table in enumerate(tables):
            n_units = table.strata["n_units"].to_numpy(dtype=np.float64)
            popsize = table.strata["popsize"].to_numpy(dtype=np.float64)
            finite = np.isfinite(popsize)
            with np.errstate(divide="ignore", invalid="ignore"):
                f = np.where(finite, (popsize - n_units) / popsize, 1.0)
                frac = np.where(finite, n_units / popsize, 0.0)
            stratum_parent = table.strata["parent"].to_numpy(dtype=np.int64)
            if s == 0 or chain_prev is None or frac_prev is None or stratum_prev is None:
                chain = np.ones(len(n_units))
            else:
                above = stratum_prev[stratum_parent]  # stratum of the parent unit
                chain = chain_prev[above] * frac_prev[above]
            unit_stratum = table.units["stratum"].to_numpy(dtype=np.int64)
            n_u = max(len(unit_stratum), 1)
            n_g = max(len(n_units), 1)

            u_keys, inv_unit = _unique_inverse(cell * n_u + units_at[s])
            unit_cell = u_keys // n_u
            unit_code = u_keys % n_u
            group_code = unit_stratum[unit_code]
            g_keys, inv_group = _unique_inverse(unit_cell * n_g + group_code)
            group_cell = g_keys // n_g
            group_stratum = g_keys % n_g
            if s == 0:
                call_keys = group_cell
                n_parent = 1
            else:
                n_parent = max(int(stratum_parent.max()) + 1, 1) if len(stratum_parent) else 1
                call_keys = group_cell * n_parent + stratum_parent[group_stratum]
            c_keys, inv_call = _unique_inverse(call_keys)
            call_cell = c_keys // n_parent if s else c_keys
            stages.append(
                _Stage(
                    stage=s + 1,
                    inv_unit=inv_unit,
                    unit_cell=unit_cell,
                    inv_group=inv_group,
                    group_cell=group_cell,
                    group_stratum=group_stratum,
                    group_n=n_units[group_stratum],
                    group_rows=np.bincount(inv_group, minlength=len(g_keys)).astype(np.float64),
                    group_f=f[group_stratum],
                    group_chain=chain[group_stratum],
                    inv_call=inv_call,
                    call_cell=call_cell,
                    labels=tuple(str(x) for x in table.strata["label"]),
                )
            )
            chain_prev, frac_prev, stratum_prev = chain, frac, unit_stratum
        return cls(ncells=ncells, stages=tuple(stages))

    def variance(self, z: FloatArray, present: BoolArray, lonely_psu: LonelyPSU) -> FloatArray:
        """The variance of each cell's total of ``z`` (one value per entry of
        the layout: the linearised variable summed over the entry's records).

        ``present`` marks the entries with a record of the estimate's domain
        (R sees only those: they decide which strata are present for the
        ``fail`` and ``average`` policies).
        """
        out = np.zeros(self.ncells, dtype=np.float64)
        z = np.asarray(z, dtype=np.float64)
        pres = np.asarray(present, dtype=np.float64)
        for st in self.stages:
            n_a = len(st.unit_cell)
            n_b = len(st.group_cell)
            za = np.bincount(st.inv_unit, weights=z, minlength=n_a)
            pa = np.bincount(st.inv_unit, weights=pres, minlength=n_a) > 0
            s1 = np.bincount(st.inv_group, weights=za, minlength=n_b)
            mean = s1 / st.group_n
            dev = za - mean[st.inv_group]
            ss = np.bincount(st.inv_group, weights=dev * dev, minlength=n_b) + (
                (st.group_n - st.group_rows) * mean * mean
            )
            pb = np.bincount(st.inv_group, weights=pa.astype(np.float64), minlength=n_b) > 0
            lonely = st.group_n <= 1
            with np.errstate(divide="ignore", invalid="ignore"):
                var = np.where(lonely, 0.0, st.group_f * st.group_n / (st.group_n - 1) * ss)
            selfrep = st.group_f < SELF_REPRESENTING
            alone = lonely & ~selfrep & pb
            if alone.any():
                if lonely_psu == "fail":
                    first = int(np.min(st.group_stratum[alone]))
                    raise LonelyPSUError(st.labels[first], st.stage)
                if lonely_psu == "adjust":
                    var = np.where(alone, st.group_f * s1 * s1, var)
                elif lonely_psu == "average":
                    var = np.where(alone, np.nan, var)
            var = np.where(selfrep, 0.0, var) * st.group_chain
            ok = pb & ~np.isnan(var)
            n_calls = len(st.call_cell)
            nstrat = np.bincount(st.inv_call, weights=pb.astype(np.float64), minlength=n_calls)
            nok = np.bincount(st.inv_call, weights=ok.astype(np.float64), minlength=n_calls)
            total = np.bincount(st.inv_call, weights=np.where(ok, var, 0.0), minlength=n_calls)
            with np.errstate(divide="ignore", invalid="ignore"):
                call_var = np.where(nstrat == nok, total, total * nstrat / nok)
            out += np.bincount(st.call_cell, weights=call_var, minlength=self.ncells)
        return out

    def df(self, present: BoolArray) -> FloatArray:
        """Degrees of freedom per cell: first-stage units with a ``present``
        entry minus first-stage strata with one."""
        st = self.stages[0]
        pres = np.asarray(present, dtype=np.float64)
        pa = np.bincount(st.inv_unit, weights=pres, minlength=len(st.unit_cell)) > 0
        n_b = len(st.group_cell)
        pb = np.bincount(st.inv_group, weights=pa.astype(np.float64), minlength=n_b) > 0
        units = np.bincount(st.unit_cell, weights=pa.astype(np.float64), minlength=self.ncells)
        strata = np.bincount(st.group_cell, weights=pb.astype(np.float64), minlength=self.ncells)
        return np.asarray(units - strata, dtype=np.float64)


def replicate_variance(
    replicates: FloatArray,
    estimate: FloatArray,
    scale: float,
    rscales: Sequence[float] | FloatArray,
    mse: bool,
) -> FloatArray:
    """R's ``svrVar`` for each row: ``scale * sum(rscales * (theta_r - centre)^2)``.

    ``replicates`` is (cells x replicates); the centre is the full-sample
    ``estimate`` when ``mse`` is true, else the mean of the replicates with a
    positive rscale. Replicates that give NaN are left out (R's
    ``na.omit``); a cell whose replicates are all NaN gets NaN.
    """
    theta = np.asarray(replicates, dtype=np.float64)
    rs = np.broadcast_to(np.asarray(rscales, dtype=np.float64), theta.shape)
    ok = ~np.isnan(theta)
    if mse:
        centre = np.asarray(estimate, dtype=np.float64)
    else:
        use = ok & (rs > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            centre = np.where(use, theta, 0.0).sum(axis=1) / use.sum(axis=1)
    dev = np.where(ok, theta - centre[:, None], 0.0)
    var = scale * (dev * dev * rs).sum(axis=1)
    return np.where(ok.any(axis=1), var, np.nan)


def _rank(block: FloatArray, tol: float) -> int:
    """Numerical rank: singular values above ``tol`` times the largest."""
    if block.size == 0:
        return 0
    if block.shape[0] > 4 * block.shape[1]:  # tall: the Gram matrix is small
        eig = np.linalg.eigvalsh(block.T @ block)
        sv = np.sqrt(np.clip(eig, 0.0, None))[::-1]
    else:
        sv = np.linalg.svd(block, compute_uv=False)
    if len(sv) == 0 or sv[0] <= 0:
        return 0
    return int(np.sum(sv > tol * sv[0]))


def _bounded_rank(table: FloatArray, rows: IntArray, bound: int, tol: float) -> int:
    """The rank of ``table[rows]``, known to be at most ``bound``: first of an
    evenly spaced sample of the rows (exact when the sample reaches the
    bound), else of all of them."""
    sample = 2 * table.shape[1] + 8
    if len(rows) > sample:
        picked = rows[np.linspace(0, len(rows) - 1, sample).astype(np.int64)]
        rank = _rank(table[picked], tol)
        if rank >= bound:
            return rank
    return _rank(table[rows], tol)


def replicate_rank(
    cells: IntArray, patterns: IntArray, table: FloatArray, ncells: int, tol: float = 1e-5
) -> FloatArray:
    """The rank of the replicate weights of each cell's records (R's ``degf``
    for replicate designs is this rank minus 1), from the records' distinct
    patterns: ``cells[i]`` has pattern ``patterns[i]`` (a row of ``table``).
    The rank counts singular values above ``tol`` times the largest.

    A cell's rank is at most the rank of all patterns and its number of
    patterns; when an evenly spaced sample of its patterns reaches that bound
    the sample's rank is the answer (exact), which keeps cells with many
    records cheap.
    """
    out = np.zeros(ncells, dtype=np.float64)
    if len(cells) == 0:
        return out
    full = _bounded_rank(table, np.arange(table.shape[0]), min(table.shape), tol)
    order = np.argsort(cells, kind="stable")
    bounds = np.searchsorted(cells[order], np.arange(ncells + 1))
    for c in range(ncells):
        idx = np.sort(patterns[order[bounds[c]:bounds[c + 1]]])
        if len(idx) == 0:
            continue
        out[c] = _bounded_rank(table, idx, min(full, len(idx)), tol)
    return out


# --------------------------------------------------------------------------- quantiles


def normal_quantile(p: float) -> float:
    """The standard normal quantile (Wichura's AS241, via the standard library)."""
    return NormalDist().inv_cdf(p)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = tiny if abs(d) < tiny else d
    d = 1.0 / d
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = tiny if abs(d) < tiny else d
        c = 1.0 + aa / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = tiny if abs(d) < tiny else d
        c = 1.0 + aa / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def _t_cdf_upper(t: float, df: float) -> float:
    """P(T > t) for t >= 0.

    For an integer ``df`` the exact finite sums of Abramowitz & Stegun
    26.7.3-4 (in ``cos^2 theta``, ``theta = atan(t / sqrt(df))``); otherwise
    the regularised incomplete beta function.
    """
    if df == int(df) and df <= 4 * _SERIES_DF:
        nu = int(df)
        c2 = df / (df + t * t)
        sin_t = t / math.sqrt(df + t * t)
        if nu % 2 == 0:
            k = np.arange(1, nu // 2, dtype=np.float64)
            terms = np.cumprod((2 * k - 1) / (2 * k) * c2)
            inside = sin_t * (1.0 + float(terms.sum()))
        else:
            theta = math.atan(t / math.sqrt(df))
            if nu == 1:
                inside = 2 * theta / math.pi
            else:
                k = np.arange(1, (nu - 1) // 2, dtype=np.float64)
                terms = np.cumprod((2 * k) / (2 * k + 1) * c2)
                cos_t = math.sqrt(c2)
                inside = 2 / math.pi * (theta + sin_t * cos_t * (1.0 + float(terms.sum())))
        return 0.5 * (1.0 - inside)
    return 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))


#: From this many degrees of freedom the Cornish-Fisher series alone gives the
#: t quantile (relative error below 1e-12 for the usual levels).
_SERIES_DF = 1000.0


@functools.lru_cache(maxsize=4096)
def t_quantile(p: float, df: float) -> float:
    """The quantile of Student's t with ``df`` degrees of freedom (``inf``: the
    normal). NaN when ``df`` is not positive. Accurate to ~1e-13 relative."""
    if math.isnan(df) or df <= 0 or not 0 < p < 1:
        return math.nan
    if math.isinf(df) or df > 1e7:
        return normal_quantile(p)
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    z = normal_quantile(p)
    # Cornish-Fisher expansion (Abramowitz & Stegun 26.7.5): error O(df^-5).
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    t = z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4
    if df >= _SERIES_DF and abs(z) < 7:
        return t
    upper = 1.0 - p
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    for _ in range(100):
        density = math.exp(log_c - (df + 1) / 2 * math.log1p(t * t / df))
        step = (_t_cdf_upper(t, df) - upper) / density
        t_new = t + step if t + step > 0 else t / 2
        # Newton converges quadratically: after a step this small the error
        # left is at the level of rounding.
        done = abs(t_new - t) <= 1e-8 * abs(t_new)
        t = t_new
        if done:
            break
    return t


def interval_factor(level: float, df: float, use_t: bool = True) -> float:
    """The multiple of the standard error for a two-sided interval: the
    ``(1 + level) / 2`` quantile of t with ``df`` degrees of freedom when
    ``use_t`` and ``df`` is finite and positive, else of the normal."""
    p = 1 - (1 - level) / 2
    if use_t and math.isfinite(df) and df > 0:
        return t_quantile(p, float(df))
    return normal_quantile(p)


def quantile_math(
    x_sorted: FloatArray, cumw: FloatArray, total: float, p: float
) -> float:
    """R's ``qrule_math``: the smallest ``x`` whose weighted CDF reaches ``p``.

    ``x_sorted`` are the values in increasing order (ties in data order),
    ``cumw`` the cumulative weights in that order and ``total`` the sum of the
    weights (R adds in data order). Exactly R's ``survey:::qs``: ``pos`` is the
    last position where ``cumw <= p * total`` (the first if none); the result
    is ``x[pos]`` when ``p - cumw[pos] / total == 0``, else the next value.
    """
    n = len(x_sorted)
    if n == 0 or math.isnan(p):
        return math.nan
    pos = int(np.searchsorted(cumw, p * total, side="right")) - 1
    if pos < 0:
        pos = 0
    wlow = p - cumw[pos] / total
    if wlow == 0:
        return float(x_sorted[pos])
    return float(x_sorted[min(pos + 1, n - 1)])


def cumulative_weights(w: FloatArray) -> FloatArray:
    """Cumulative sums accumulated in extended precision, as R's ``cumsum``."""
    return np.asarray(np.cumsum(np.asarray(w, dtype=np.longdouble)), dtype=np.float64)
