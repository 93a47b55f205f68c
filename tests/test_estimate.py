"""Hand-computed checks of the estimation core.

Every expected value below is worked out in the test from the textbook
formula it is meant to reproduce (stratified and cluster sampling, Taylor
linearisation of a ratio, the jackknife, the weighted quantile), never copied
from the code under test. R parity is in ``test_r_parity.py``; properties in
``test_estimate_properties.py``.
"""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pandas as pd
import pytest

from migprofile.catalog.filters import UnknownColumnError
from migprofile.compute.design import (
    Design,
    DesignColumnError,
    DesignError,
    LonelyPSUError,
)
from migprofile.compute.engine import ENGINES, PandasEngine, UnmappedCodeError, get_engine
from migprofile.compute.estimate import RESULT_COLUMNS, estimate, estimate_many
from migprofile.compute.estimators import estimate_item, total
from migprofile.compute.plan import Breakdown, EstimateError, Request, make_plan
from migprofile.compute.variance import t_quantile
from migprofile.errors import MigprofileError
from migprofile.sources.mapping import DesignSpec

REL = 1e-12


def close(a: float, b: float, rel: float = REL) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def stratified() -> pd.DataFrame:
    """Two strata sampled without replacement: h=a, 3 of N=30 units; h=b, 2 of
    N=40. Weights N_h / n_h."""
    return pd.DataFrame(
        {
            "h": ["a", "a", "a", "b", "b"],
            "y": [1.0, 2.0, 4.0, 5.0, 9.0],
            "x": [2.0, 2.0, 3.0, 4.0, 6.0],
            "g": ["p", "q", "p", "q", "q"],
            "N": [30, 30, 30, 40, 40],
            "w": [10.0, 10.0, 10.0, 20.0, 20.0],
        }
    )


STRAT = Design(weights="w", strata="h", fpc="N")


def strat_total_var(frame: pd.DataFrame, z: pd.Series) -> float:
    """sum_h N_h^2 (1 - n_h/N_h) s_h^2 / n_h for the stratum totals of the
    per-unit values t = n_h z (z the weighted contribution w*y)."""
    var = 0.0
    for _, part in frame.assign(z=z).groupby("h"):
        n = len(part)
        big_n = float(part["N"].iloc[0])
        # z = w y = (N/n) y, so y-values are z * n / N
        yv = part["z"].to_numpy() * n / big_n
        s2 = yv.var(ddof=1)
        var += big_n**2 * (1 - n / big_n) * s2 / n
    return var


# --------------------------------------------------------------------------- stratified


def test_stratified_total_mean_and_df(stratified: pd.DataFrame) -> None:
    res = estimate(stratified, "total", "y", design=STRAT)
    expected_total = float((stratified.w * stratified.y).sum())
    expected_var = strat_total_var(stratified, stratified.w * stratified.y)
    row = res.iloc[0]
    assert close(row.value, expected_total)
    assert close(row.se, math.sqrt(expected_var))
    assert row.df == 5 - 2  # PSUs minus strata
    assert row.n == 5
    t3 = 3.1824463052837078  # R: qt(0.975, 3)
    assert close(row.ci_lower, expected_total - t3 * row.se, 1e-12)
    assert close(row.ci_upper, expected_total + t3 * row.se, 1e-12)
    assert close(row.cv, row.se / expected_total)

    # The mean is the ratio of sum(w y) to sum(w); linearised variable
    # (y - ybar) w / sum(w), whose stratified total variance is the same formula.
    res = estimate(stratified, "mean", "y", design=STRAT)
    wsum = float(stratified.w.sum())
    ybar = float((stratified.w * stratified.y).sum()) / wsum
    lin = (stratified.y - ybar) * stratified.w / wsum
    assert close(res.value.iloc[0], ybar)
    assert close(res.se.iloc[0], math.sqrt(strat_total_var(stratified, lin)))


def test_ratio_is_linearised(stratified: pd.DataFrame) -> None:
    w, y, x = stratified.w, stratified.y, stratified.x
    r = float((w * y).sum() / (w * x).sum())
    lin = (y - r * x) * w / float((w * x).sum())
    res = estimate(stratified, "ratio", "y", x="x", design=STRAT)
    assert close(res.value.iloc[0], r)
    assert close(res.se.iloc[0], math.sqrt(strat_total_var(stratified, lin)))
    # a rate is the ratio times the multiplier, SE and interval scaled too
    rate = estimate(stratified, "rate", "y", x="x", design=STRAT, multiplier=1000)
    assert close(rate.value.iloc[0], 1000 * r)
    assert close(rate.se.iloc[0], 1000 * res.se.iloc[0])
    assert close(rate.ci_upper.iloc[0], 1000 * res.ci_upper.iloc[0])


def test_domain_zeroes_weights(stratified: pd.DataFrame) -> None:
    """A domain keeps every record; outside it the contribution is 0."""
    inside = (stratified.g == "q").astype(float)
    z = stratified.w * stratified.y * inside
    res = estimate(stratified, "total", "y", where="g == 'q'", design=STRAT)
    assert close(res.value.iloc[0], float(z.sum()))
    assert close(res.se.iloc[0], math.sqrt(strat_total_var(stratified, z)))
    # df of the domain: 3 PSUs with records of q, in 2 strata
    assert res.df.iloc[0] == 3 - 2
    assert res.n.iloc[0] == 3

    # the domain mean: linearised (y - m) w 1[q] / sum(w 1[q])
    wq = float((stratified.w * inside).sum())
    m = float(z.sum()) / wq
    lin = (stratified.y - m) * stratified.w * inside / wq
    res = estimate(stratified, "mean", "y", by="g", design=STRAT)
    q = res[res.g == "q"].iloc[0]
    assert close(q.value, m)
    assert close(q.se, math.sqrt(strat_total_var(stratified, lin)))


def test_share_of_a_condition(stratified: pd.DataFrame) -> None:
    ind = (stratified.y > 3).astype(float)
    w = stratified.w
    p = float((w * ind).sum() / w.sum())
    lin = (ind - p) * w / float(w.sum())
    res = estimate(stratified, "share", "y > 3", design=STRAT)
    assert close(res.value.iloc[0], p)
    assert close(res.se.iloc[0], math.sqrt(strat_total_var(stratified, lin)))
    # logit interval: expit(logit(p) -/+ t se / (p (1 - p)))
    logit = estimate(stratified, "share", "y > 3", design=STRAT, ci_method="logit")
    t3 = 3.1824463052837078
    half = t3 * res.se.iloc[0] / (p * (1 - p))
    lo = 1 / (1 + math.exp(-(math.log(p / (1 - p)) - half)))
    hi = 1 / (1 + math.exp(-(math.log(p / (1 - p)) + half)))
    assert close(logit.ci_lower.iloc[0], lo)
    assert close(logit.ci_upper.iloc[0], hi)
    # a 0/1 numeric column is a share too
    numeric = stratified.assign(big=ind)
    same = estimate(numeric, "share", "big", design=STRAT, ci_method="logit")
    assert close(same.value.iloc[0], p)
    assert close(same.ci_upper.iloc[0], hi)
    with pytest.raises(EstimateError, match="logit"):
        estimate(stratified, "total", "y", design=STRAT, ci_method="logit")


def test_count_and_normal_interval(stratified: pd.DataFrame) -> None:
    res = estimate(stratified, "count", "g == 'p'", design=STRAT, ci_method="normal")
    z = stratified.w * (stratified.g == "p")
    assert close(res.value.iloc[0], float(z.sum()))
    assert close(res.se.iloc[0], math.sqrt(strat_total_var(stratified, z)))
    z975 = 1.9599639845400536  # R: qnorm(0.975)
    assert close(res.ci_upper.iloc[0], res.value.iloc[0] + z975 * res.se.iloc[0])


# --------------------------------------------------------------------------- clusters


@pytest.fixture
def clusters() -> pd.DataFrame:
    """Four clusters drawn with replacement (no fpc), unequal weights."""
    return pd.DataFrame(
        {
            "c": [1, 1, 2, 2, 2, 3, 4, 4],
            "y": [3.0, 5.0, 2.0, 2.0, 8.0, 6.0, 1.0, 4.0],
            "x": [1.0, 2.0, 1.0, 1.0, 3.0, 2.0, 1.0, 1.0],
            "w": [2.0, 2.0, 3.0, 3.0, 3.0, 1.0, 4.0, 4.0],
        }
    )


def wr_cluster_var(frame: pd.DataFrame, z: pd.Series) -> float:
    """With replacement: n/(n-1) sum_i (Z_i - Zbar)^2 over cluster totals."""
    totals = z.groupby(frame.c).sum().to_numpy()
    n = len(totals)
    return float(n / (n - 1) * ((totals - totals.mean()) ** 2).sum())


def test_cluster_with_replacement(clusters: pd.DataFrame) -> None:
    design = Design(weights="w", psu="c")
    z = clusters.w * clusters.y
    res = estimate(clusters, "total", "y", design=design)
    assert close(res.value.iloc[0], float(z.sum()))
    assert close(res.se.iloc[0], math.sqrt(wr_cluster_var(clusters, z)))
    assert res.df.iloc[0] == 4 - 1

    w, y, x = clusters.w, clusters.y, clusters.x
    r = float((w * y).sum() / (w * x).sum())
    lin = (y - r * x) * w / float((w * x).sum())
    res = estimate(clusters, "ratio", "y", x="x", design=design)
    assert close(res.se.iloc[0], math.sqrt(wr_cluster_var(clusters, lin)))


def test_two_stage_with_fpc() -> None:
    """Two-stage sample: n1=2 of N1=5 PSUs; in each, 2 or 3 of N2 units.
    Classic unbiased variance of the total:
    N1^2 (1 - f1) s1^2 / n1 + (N1/n1) sum_i N2i^2 (1 - f2i) s2i^2 / n2i."""
    frame = pd.DataFrame(
        {
            "p": [1, 1, 2, 2, 2],
            "s": [1, 2, 3, 4, 5],
            "y": [4.0, 6.0, 1.0, 2.0, 6.0],
            "N1": [5, 5, 5, 5, 5],
            "N2": [10, 10, 6, 6, 6],
        }
    )
    n1, big_n1 = 2, 5
    parts = {1: (np.array([4.0, 6.0]), 10), 2: (np.array([1.0, 2.0, 6.0]), 6)}
    t_i = {i: big_n2 * y.mean() for i, (y, big_n2) in parts.items()}  # PSU totals
    t_hat = big_n1 / n1 * sum(t_i.values())
    s1 = np.var(list(t_i.values()), ddof=1)
    first = big_n1**2 * (1 - n1 / big_n1) * s1 / n1
    second = big_n1 / n1 * sum(
        big_n2**2 * (1 - len(y) / big_n2) * y.var(ddof=1) / len(y) for y, big_n2 in parts.values()
    )
    design = Design(psu=["p", "s"], fpc=["N1", "N2"])  # weights derived from the fpcs
    res = estimate(frame, "total", "y", design=design)
    assert close(res.value.iloc[0], t_hat)
    assert close(res.se.iloc[0], math.sqrt(first + second))
    # without fpc only the first stage counts, with replacement
    wr = estimate(frame.assign(w=[25.0, 25.0, 5.0, 5.0, 5.0]), "total", "y",
                  design=Design(weights="w", psu=["p", "s"]))
    z = np.array([25.0 * 4 + 25 * 6, 5.0 * (1 + 2 + 6)])
    assert close(wr.se.iloc[0], math.sqrt(2 / 1 * ((z - z.mean()) ** 2).sum()))


# --------------------------------------------------------------------------- replicates


def test_jackknife_by_hand() -> None:
    """JK1 on a simple random sample of 4: replicate r drops unit r and
    multiplies the others by n/(n-1); variance (R-1)/R sum (theta_r - mean)^2."""
    y = np.array([2.0, 5.0, 7.0, 10.0])
    w = np.array([3.0, 3.0, 3.0, 3.0])
    n = len(y)
    reps = np.array([[0.0 if i == r else w[i] * n / (n - 1) for r in range(n)] for i in range(n)])
    frame = pd.DataFrame({"y": y, "w": w, **{f"rep{r}": reps[:, r] for r in range(n)}})
    design = Design(weights="w", replicate_weights="^rep", replicate_method="JK1")

    thetas = np.array([(reps[:, r] * y).sum() / reps[:, r].sum() for r in range(n)])
    var = (n - 1) / n * ((thetas - thetas.mean()) ** 2).sum()
    res = estimate(frame, "mean", "y", design=design)
    assert close(res.value.iloc[0], float((w * y).sum() / w.sum()))
    assert close(res.se.iloc[0], math.sqrt(var))
    assert res.df.iloc[0] == n - 1  # rank of the replicate weights minus 1

    # mse=True centres on the full-sample estimate
    mse = estimate(frame, "mean", "y", design=Design(
        weights="w", replicate_weights="^rep", replicate_method="JK1", mse=True))
    full = float((w * y).sum() / w.sum())
    assert close(mse.se.iloc[0], math.sqrt((n - 1) / n * ((thetas - full) ** 2).sum()))

    totals = np.array([(reps[:, r] * y).sum() for r in range(n)])
    res = estimate(frame, "total", "y", design=design)
    assert close(res.se.iloc[0], math.sqrt((n - 1) / n * ((totals - totals.mean()) ** 2).sum()))


def test_replicate_defaults() -> None:
    def factors(method: str, **kw: object) -> tuple[float, tuple[float, ...]]:
        d = Design(replicate_weights=["a", "b"], replicate_method=method, **kw)  # type: ignore[arg-type]
        return d.replicate_factors(8)

    assert factors("JK1") == (7 / 8, (1.0,) * 8)
    assert factors("BRR") == (1 / 8, (1.0,) * 8)
    assert factors("Fay", fay_rho=0.5) == (1 / (8 * 0.25), (1.0,) * 8)
    assert factors("bootstrap") == (1 / 7, (1.0,) * 8)
    assert factors("SDR") == (4 / 8, (1.0,) * 8)
    assert factors("ACS") == (4 / 8, (1.0,) * 8)
    assert factors("JKn", replicate_rscales=[0.5] * 8) == (1.0, (0.5,) * 8)
    assert factors("other", replicate_scale=2.0) == (2.0, (1.0,) * 8)
    assert factors("JK1", replicate_scale=0.5)[0] == 0.5
    with pytest.raises(DesignError) as info:
        Design(replicate_weights=["a"], replicate_method="JKn").replicate_factors(8)
    assert info.value.field == "replicate_rscales"


# --------------------------------------------------------------------------- quantiles


def test_quantile_rule_and_woodruff_interval() -> None:
    """qrule "math": the smallest x whose weighted CDF reaches p."""
    frame = pd.DataFrame({"x": [5.0, 1.0, 4.0, 2.0, 3.0], "w": [4.0, 1.0, 1.0, 1.0, 1.0]})
    design = Design(weights="w")  # each record its own PSU, with replacement
    # sorted x = 1,2,3,4,5 with w = 1,1,1,1,4: CDF = 1/8, 2/8, 3/8, 4/8, 1
    res = estimate(frame, "quantile", "x", design=design, prob=0.5)
    assert res.value.iloc[0] == 4.0  # CDF reaches 0.5 exactly at 4
    res25 = estimate(frame, "quantile", "x", design=design, prob=0.3)
    assert res25.value.iloc[0] == 3.0

    # the interval of so small a sample runs past [0, 1]: NaN ends, as R
    assert math.isnan(res.ci_lower.iloc[0]) or math.isnan(res.ci_upper.iloc[0])


def test_woodruff_interval_by_hand() -> None:
    """Woodruff: the CDF at the quantile, m = F(q), has a Wald interval from
    the linearised mean of 1[x <= q]; its ends go back through the rule; the
    SE is (upper - lower) / (2 t)."""
    x = np.array([float((7 * i) % 17) for i in range(40)])
    w = np.array([1.0 + (i % 3) for i in range(40)])
    frame = pd.DataFrame({"x": x, "w": w})

    def rule(p: float) -> float:  # smallest x whose CDF reaches p (weights are integers)
        order = np.argsort(x, kind="stable")
        cum = np.cumsum(w[order])
        return float(x[order][int(np.argmax(cum >= p * w.sum()))])

    q = rule(0.5)
    below = (x <= q).astype(float)
    m = float((w * below).sum() / w.sum())
    z = w * (below - m) / w.sum()
    n = len(z)
    se_m = math.sqrt(n / (n - 1) * ((z - z.mean()) ** 2).sum())
    t39 = 2.0226909200367604  # R: qt(0.975, 39)
    lower, upper = rule(m - t39 * se_m), rule(m + t39 * se_m)

    row = estimate(frame, "quantile", "x", design=Design(weights="w"), prob=0.5).iloc[0]
    assert row.value == q
    assert row.df == 39
    assert (row.ci_lower, row.ci_upper) == (lower, upper)
    assert lower < q < upper
    assert close(row.se, (upper - lower) / (2 * t39))


def test_quantile_by_cell_and_census() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 10.0, 20.0, 30.0, 40.0], "g": list("aaabbbb")})
    res = estimate(frame, "quantile", "x", by="g", prob=0.5)
    assert list(res.value) == [2.0, 20.0]  # b: CDF 1/4, 2/4 -> 20
    # no design: a complete enumeration has no sampling error, and says so
    assert res.se.isna().all()
    assert (res.findings == "NO_SAMPLING_ERROR").all()


# --------------------------------------------------------------------------- lonely PSUs


@pytest.fixture
def lonely() -> pd.DataFrame:
    """Stratum A has three PSUs, stratum B one."""
    return pd.DataFrame(
        {
            "h": ["A", "A", "A", "B"],
            "y": [1.0, 3.0, 8.0, 5.0],
            "w": [2.0, 2.0, 2.0, 4.0],
        }
    )


def test_lonely_psu_policies(lonely: pd.DataFrame) -> None:
    z = (lonely.w * lonely.y).to_numpy()
    za = z[:3]
    var_a = 3 / 2 * ((za - za.mean()) ** 2).sum()  # with replacement, n/(n-1) SS

    def se(policy: str) -> float:
        d = Design(weights="w", strata="h", lonely_psu=policy)  # type: ignore[arg-type]
        return float(estimate(lonely, "total", "y", design=d).se.iloc[0])

    assert close(se("remove"), math.sqrt(var_a))
    assert close(se("certainty"), math.sqrt(var_a))
    # adjust: the lonely PSU is centred at 0 (R): its square counts in full
    assert close(se("adjust"), math.sqrt(var_a + z[3] ** 2))
    # average: the lonely stratum gets the average of the others: 2 strata, 1 ok
    assert close(se("average"), math.sqrt(var_a * 2 / 1))
    with pytest.raises(LonelyPSUError) as info:
        se("fail")
    assert info.value.stratum == "B"
    assert info.value.stage == 1
    assert "Stratum (B) has only one PSU at stage 1" in str(info.value)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, MigprofileError)
    # a domain that does not reach the lonely stratum does not fail
    ok = estimate(lonely, "total", "y", where="h == 'A'", design=Design(weights="w", strata="h"))
    assert close(ok.se.iloc[0], math.sqrt(var_a))


# --------------------------------------------------------------------------- missing values


def test_missing_values_and_unknown_cell() -> None:
    frame = pd.DataFrame(
        {
            "y": [1.0, np.nan, 3.0, 5.0, 7.0],
            "g": ["a", "a", None, "b", "b"],
            "w": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    design = Design(weights="w")
    res = estimate(frame, "mean", "y", design=design)
    # the record with a missing y is out of numerator and denominator
    assert close(res.value.iloc[0], (1 * 1 + 3 * 3 + 4 * 5 + 5 * 7) / (1 + 3 + 4 + 5))
    assert res.n.iloc[0] == 4
    counts = estimate(frame, "count", None, by="g", design=design)
    assert list(counts.g) == ["a", "b", "_U"]
    assert list(counts.value) == [3.0, 9.0, 3.0]
    total_count = estimate(frame, "count", None, design=design).value.iloc[0]
    assert close(float(counts.value.sum()), total_count)


def test_breakdown_mapped_to_a_coarser_level() -> None:
    frame = pd.DataFrame(
        {"age": [3, 7, 15, 16, 40, 70], "w": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]}
    )
    groups = {3: "0-14", 7: "0-14", 15: "15-64", 16: "15-64", 40: "15-64", 70: "65+"}
    by = Breakdown.of("age", groups, name="age_group")
    res = estimate(frame, "count", None, by=by, design=Design(weights="w"))
    assert list(res.age_group) == ["0-14", "15-64", "65+"]
    assert list(res.value) == [3.0, 12.0, 6.0]
    with pytest.raises(UnmappedCodeError) as info:
        estimate(frame, "count", None, by=Breakdown.of("age", {3: "x"}))
    assert info.value.column == "age"
    assert isinstance(info.value, KeyError)


# --------------------------------------------------------------------------- the plan


def test_one_plan_for_many_estimates(stratified: pd.DataFrame) -> None:
    requests = [
        Request("total", "y", by=(Breakdown("g"),)),
        Request("mean", "y"),
        Request("mean", "y", by=(Breakdown("g"), Breakdown("h"))),
        Request("total", "y"),
    ]
    plan = make_plan(requests, STRAT)
    # measures are shared: w*y (m0) and the count of y-records (m1) serve the
    # totals, w (m2) the means' denominator
    assert [m.name for m in plan.measures] == ["m0", "m1", "m2"]
    assert len(plan.groupings) == 3
    assert plan.bases() == (2, 2, 2)  # (g) and () are derived from (g, h)
    text = plan.describe()
    assert text == plan.describe()
    assert "g0: (g)   [derived from g2]" in text
    assert "g2: (g, h)   [data]" in text
    assert "unit totals per cell x stage-1 unit (record)" in text

    table = estimate_many(stratified, requests, STRAT)
    assert list(table.columns) == ["indicator", "ref_period", "ref_area", "g", "h",
                                   *RESULT_COLUMNS[3:]]
    single = estimate(stratified, "total", "y", by="g", design=STRAT)
    from_plan = table.iloc[:2]
    assert list(from_plan.h) == ["_T", "_T"]
    np.testing.assert_allclose(from_plan.se.to_numpy(), single.se.to_numpy(), rtol=1e-13)


def test_pure_estimator_on_engine_sums(stratified: pd.DataFrame) -> None:
    plan = make_plan([Request("total", "y")], STRAT)
    sums = get_engine("pandas").run(plan, stratified)
    first = total(plan.items[0], sums)
    second = total(plan.items[0], sums)
    assert first.value.tolist() == second.value.tolist()
    assert not first.value.flags.writeable
    assert estimate_item(plan.items[0], sums).ci_lower is not None
    assert ENGINES["pandas"] is PandasEngine
    with pytest.raises(EstimateError):
        get_engine("spark")


# --------------------------------------------------------------------------- errors


def test_errors_name_what_is_wrong(stratified: pd.DataFrame) -> None:
    with pytest.raises(UnknownColumnError) as col:
        estimate(stratified, "total", "nope", design=STRAT)
    assert col.value.column == "nope"
    assert isinstance(col.value, KeyError)
    with pytest.raises(DesignColumnError) as dcol:
        estimate(stratified, "total", "y", design=Design(weights="pw"))
    assert dcol.value.column == "pw" and dcol.value.field == "weights"
    assert "pw" in str(dcol.value)
    with pytest.raises(EstimateError, match=re.escape("unknown estimate kind 'median'")):
        estimate(stratified, "median", "y")
    with pytest.raises(EstimateError, match="needs x"):
        estimate(stratified, "ratio", "y")
    with pytest.raises(EstimateError, match="prob"):
        estimate(stratified, "quantile", "y", prob=1.5)
    with pytest.raises(EstimateError, match="level"):
        estimate(stratified, "total", "y", level=95)
    with pytest.raises(EstimateError, match="ci_method"):
        estimate(stratified, "total", "y", ci_method="exact")
    with pytest.raises(EstimateError, match="numeric"):
        estimate(stratified, "total", "g")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"replicate_method": "JK1"}, "replicate_weights"),
        ({"replicate_weights": ["a"]}, "replicate_method"),
        ({"replicate_weights": ["a"], "replicate_method": "Fay"}, "fay_rho"),
        ({"replicate_weights": ["a"], "replicate_method": "JKn"}, "replicate_rscales"),
        ({"replicate_weights": ["a"], "replicate_method": "other"}, "replicate_scale"),
        ({"replicate_weights": ["a"], "replicate_method": "BRR", "strata": "h"}, "strata"),
        ({"lonely_psu": "ignore"}, "lonely_psu"),
        ({"psu": ["a", "b"], "fpc": ["f"]}, "fpc"),
        ({"replicate_weights": "(", "replicate_method": "BRR"}, "replicate_weights"),
        ({"mse": True}, "mse"),
    ],
)
def test_design_validation(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(DesignError) as info:
        Design(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert isinstance(info.value, ValueError)


def test_design_is_frozen_and_built_from_a_spec() -> None:
    spec = DesignSpec(weights="w", strata="h", psu=("p",), fpc=("N",), lonely_psu="adjust")
    design = Design.from_spec(spec)
    assert design == Design(weights="w", strata="h", psu="p", fpc="N", lonely_psu="adjust")
    assert design.strata == ("h",) and design.psu == ("p",)
    with pytest.raises(AttributeError):
        design.weights = "x"  # type: ignore[misc]
    rep = Design.from_spec(DesignSpec(weights="w", replicate_weights="^rw", replicate_method="BRR"))
    assert rep.variance == "replicate"


def test_fpc_as_fractions_equals_population_sizes(stratified: pd.DataFrame) -> None:
    fractions = stratified.assign(f=[0.1, 0.1, 0.1, 0.05, 0.05])
    a = estimate(fractions, "total", "y", design=Design(weights="w", strata="h", fpc="f"))
    b = estimate(stratified, "total", "y", design=STRAT)
    assert close(a.se.iloc[0], b.se.iloc[0])
    with pytest.raises(DesignError, match="100%"):
        estimate(stratified.assign(N=[2, 2, 2, 40, 40]), "total", "y", design=STRAT)


def test_t_quantiles_match_r() -> None:
    # R: qt(0.975, c(1, 2, 3, 9, 39, 197)); qt(0.995, 39); qnorm(0.975)
    expected = {1: 12.7062047361746941, 2: 4.3026527297494619, 3: 3.1824463052837078,
                9: 2.2621571627982049, 39: 2.0226909200367604, 197: 1.9720790337785010}
    for df, value in expected.items():
        assert math.isclose(t_quantile(0.975, float(df)), value, rel_tol=1e-12)
    assert math.isclose(t_quantile(0.995, 39.0), 2.7079131835176615, rel_tol=1e-12)
    assert math.isclose(t_quantile(0.975, math.inf), 1.9599639845400536, rel_tol=1e-14)
    assert math.isnan(t_quantile(0.975, 0.0))


def test_a_dataset_brings_its_design_period_and_source() -> None:
    """The tiny LFS fixture declares JK1 replicate weights repw_1..4."""
    from pathlib import Path

    from migprofile.sources import read_source

    dataset = read_source(Path(__file__).parent / "data" / "survey" / "mapping.yaml")
    # record 7 has an unreadable replicate weight: a clear error, not a silent 0
    with pytest.raises(DesignError) as info:
        estimate(dataset, "count", None)
    assert info.value.column == "repw_4"
    frame = dataset.frame.assign(repw_4=dataset.frame["repw_4"].fillna(93.0))
    dataset = dataclasses.replace(dataset, tables={"persons": frame})
    res = estimate(dataset, "count", None)
    row = res.iloc[0]
    assert row.ref_period == "2024-Q2"
    assert row.source == "tiny_lfs_2024"
    assert close(row.value, float(frame["weight"].sum()))
    reps = [float(frame[f"repw_{r}"].sum()) for r in range(1, 5)]
    mean = sum(reps) / 4
    assert close(row.se, math.sqrt(3 / 4 * sum((t - mean) ** 2 for t in reps)))
    # an explicit design wins over the mapping's
    census = estimate(dataset, "count", None, design=Design(weights="weight"))
    assert census.se.iloc[0] != row.se
