"""Intervals for shares near 0 or 1: Korn-Graubard against R, Wilson by hand.

R 4.2.2, survey 4.1.1 (tests/r/README.md says how to install it):

    library(survey); data(api)
    dstrat <- svydesign(id=~1, strata=~stype, weights=~pw, data=apistrat, fpc=~fpc)
    dclus1 <- svydesign(id=~dnum, weights=~pw, data=apiclus1, fpc=~fpc)
    options(digits=17)
    b <- svyciprop(~I(sch.wide=="Yes"), dstrat, method="beta"); c(coef(b), confint(b))
    b <- svyciprop(~I(sch.wide=="Yes"), dclus1, method="beta"); c(coef(b), confint(b))
    b <- svyciprop(~I(stype=="H"), dclus1, method="beta"); c(coef(b), confint(b))
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

import migprofile as mp
from conftest import TESTS

R_SURVEY = TESTS / "data" / "r_survey"

KORN_GRAUBARD = [
    # design, condition column, estimate, lower, upper (R's svyciprop, method "beta")
    ("dstrat", "yes", 0.82794801141582341, 0.77417132859731252, 0.87343159262073522),
    ("dclus1", "yes", 0.87431693989071035, 0.82370221084750106, 0.91470449212686533),
    ("dclus1", "high", 0.076502732240437160, 0.029638106207170316, 0.156022548788451898),
]


def _design(name: str) -> tuple[pd.DataFrame, mp.Design]:
    if name == "dstrat":
        frame = pd.read_csv(R_SURVEY / "apistrat.csv")
        design = mp.Design(weights="pw", strata="stype", fpc="fpc")
    else:
        frame = pd.read_csv(R_SURVEY / "apiclus1.csv")
        design = mp.Design(weights="pw", psu="dnum", fpc="fpc")
    frame = frame.assign(yes=frame["sch.wide"] == "Yes", high=frame["stype"] == "H")
    return frame, design


@pytest.mark.parametrize(("name", "column", "value", "lower", "upper"), KORN_GRAUBARD)
def test_korn_graubard_matches_r(
    name: str, column: str, value: float, lower: float, upper: float
) -> None:
    pytest.importorskip("scipy")
    frame, design = _design(name)
    row = mp.estimate(frame, "share", column, design=design, ci_method="korn_graubard").iloc[0]
    assert row["value"] == pytest.approx(value, rel=1e-12)
    assert row["ci_lower"] == pytest.approx(lower, rel=1e-8)
    assert row["ci_upper"] == pytest.approx(upper, rel=1e-8)


def test_wilson_by_hand() -> None:
    frame, design = _design("dstrat")
    row = mp.estimate(frame, "share", "yes", design=design, ci_method="wilson").iloc[0]
    p, se, df = row["value"], row["se"], row["df"]
    n = p * (1 - p) / se**2  # effective sample size
    from migprofile.compute.variance import interval_factor

    z = interval_factor(0.95, df, True)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert row["ci_lower"] == pytest.approx(centre - half, rel=1e-12)
    assert row["ci_upper"] == pytest.approx(centre + half, rel=1e-12)
    # both ends inside (0, 1) and around the estimate
    assert 0 < row["ci_lower"] < p < row["ci_upper"] < 1


def test_interval_for_shares_only() -> None:
    frame, design = _design("dstrat")
    with pytest.raises(mp.MigprofileError, match="shares"):
        mp.estimate(frame, "total", "enroll", design=design, ci_method="wilson")
