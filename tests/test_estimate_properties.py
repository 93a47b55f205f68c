"""Properties of the estimation core that must hold for any data and design.

- a domain estimated with ``where=``, as a cell of ``by=`` and as a ratio
  agree (estimate, SE, degrees of freedom);
- results do not depend on the order of the records;
- count and total cells add up to the total over all cells (margins);
- records of weight 0 change nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migprofile.compute.design import Design
from migprofile.compute.estimate import estimate, estimate_many

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
COLUMNS = ["value", "se", "df", "n"]


@st.composite
def samples(draw: st.DrawFn) -> tuple[pd.DataFrame, Design]:
    """A stratified cluster sample (every stratum has 2+ PSUs) and its design:
    Taylor with or without fpc, or replicate weights (JK1 by PSU)."""
    n_strata = draw(st.integers(1, 3))
    rows: list[dict[str, Any]] = []
    psu_id = 0
    for h in range(n_strata):
        n_psu = draw(st.integers(2, 4))
        for _ in range(n_psu):
            psu_id += 1
            for _ in range(draw(st.integers(1, 3))):
                rows.append(
                    {
                        "h": f"s{h}",
                        "psu": psu_id,
                        "w": draw(st.floats(0.5, 20, allow_nan=False)),
                        "y": draw(st.floats(-50, 50, allow_nan=False)),
                        "x": draw(st.floats(1, 10, allow_nan=False)),
                        "g": draw(st.sampled_from(["a", "b", "c"])),
                        "N": 10,
                    }
                )
    frame = pd.DataFrame(rows)
    kind = draw(st.sampled_from(["taylor", "taylor_fpc", "replicate"]))
    if kind == "taylor":
        return frame, Design(weights="w", strata="h", psu="psu")
    if kind == "taylor_fpc":
        return frame, Design(weights="w", strata="h", psu="psu", fpc="N")
    # JK1 with one replicate per PSU (strata ignored), combined weights
    psus = sorted(frame["psu"].unique())
    k = len(psus)
    for r, dropped in enumerate(psus):
        factor = np.where(frame["psu"] == dropped, 0.0, k / (k - 1))
        frame[f"rep{r}"] = frame["w"] * factor
    return frame, Design(weights="w", replicate_weights=r"^rep\d+$", replicate_method="JK1")


def _assert_rows_equal(a: pd.Series[Any], b: pd.Series[Any]) -> None:
    for col in COLUMNS:
        x, y = float(a[col]), float(b[col])
        if np.isnan(y):
            assert np.isnan(x), col
        else:
            assert np.isclose(x, y, rtol=1e-9, atol=1e-9 * (1 + abs(float(b["value"])))), (
                col, x, y
            )


@SETTINGS
@given(samples(), st.sampled_from(["a", "b", "c"]))
def test_domain_by_where_by_cell_and_ratio_agree(
    sample: tuple[pd.DataFrame, Design], group: str
) -> None:
    frame, design = sample
    if not (frame["g"] == group).any():
        return
    where = f"g == '{group}'"
    by_where = estimate(frame, "mean", "y", where=where, design=design).iloc[0]
    by_cell = estimate(frame, "mean", "y", by="g", design=design)
    cell = by_cell[by_cell["g"] == group].iloc[0]
    _assert_rows_equal(by_where, cell)

    # as a ratio: sum(w y 1[g]) / sum(w 1[g]) over the whole sample
    indicator = (frame["g"] == group).astype(float)
    ratio_frame = frame.assign(y_in=frame["y"] * indicator, one_in=indicator)
    whole = estimate(ratio_frame, "ratio", "y_in", x="one_in", design=design).iloc[0]
    assert np.isclose(whole["value"], by_where["value"], rtol=1e-9, atol=1e-9)
    assert np.isclose(whole["se"], by_where["se"], rtol=1e-9, atol=1e-9)
    # the same ratio restricted to the domain also has the domain's df
    ratio_in = estimate(ratio_frame.assign(one=1.0), "ratio", "y", x="one", where=where,
                        design=design).iloc[0]
    _assert_rows_equal(ratio_in, by_where)


@SETTINGS
@given(samples(), st.randoms(use_true_random=False))
def test_row_order_does_not_matter(sample: tuple[pd.DataFrame, Design], rnd: Any) -> None:
    frame, design = sample
    order = list(range(len(frame)))
    rnd.shuffle(order)
    shuffled = frame.iloc[order].reset_index(drop=True)
    requests: list[dict[str, Any]] = [
        {"kind": "total", "y": "y", "by": "g"},
        {"kind": "ratio", "y": "y", "x": "x", "by": "h"},
        {"kind": "share", "y": "y > 0"},
        {"kind": "quantile", "y": "y", "prob": 0.5, "by": "g"},
    ]
    a = estimate_many(frame, requests, design)
    b = estimate_many(shuffled, requests, design)
    assert len(a) == len(b)
    for (_, ra), (_, rb) in zip(a.iterrows(), b.iterrows(), strict=True):
        assert (ra["g"], ra["h"]) == (rb["g"], rb["h"])
        _assert_rows_equal(ra, rb)


@SETTINGS
@given(samples())
def test_cells_add_up_to_the_margin(sample: tuple[pd.DataFrame, Design]) -> None:
    frame, design = sample
    for kind, y in (("count", None), ("total", "y")):
        cells = estimate(frame, kind, y, by=["g", "h"], design=design)
        margin = estimate(frame, kind, y, design=design).iloc[0]
        assert np.isclose(cells["value"].sum(), margin["value"], rtol=1e-10, atol=1e-8)
        assert cells["n"].sum() == margin["n"]


@SETTINGS
@given(samples(), st.data())
def test_zero_weight_records_change_nothing(
    sample: tuple[pd.DataFrame, Design], data: st.DataObject
) -> None:
    frame, design = sample
    picks = data.draw(st.lists(st.integers(0, len(frame) - 1), min_size=1, max_size=4))
    extra = frame.iloc[picks].copy()
    extra["y"] = data.draw(st.floats(-1e3, 1e3, allow_nan=False))
    extra["g"] = data.draw(st.sampled_from(["a", "b", "c", "d"]))
    for col in [c for c in frame.columns if c == "w" or c.startswith("rep")]:
        extra[col] = 0.0  # weight 0 in every replicate too
    padded = pd.concat([frame, extra], ignore_index=True)
    for kind, y, x in (("total", "y", None), ("mean", "y", None), ("ratio", "y", "x")):
        a = estimate(frame, kind, y, x=x, by="h", design=design)
        b = estimate(padded, kind, y, x=x, by="h", design=design)
        assert len(a) == len(b)
        for (_, ra), (_, rb) in zip(a.iterrows(), b.iterrows(), strict=True):
            _assert_rows_equal(rb, ra)
