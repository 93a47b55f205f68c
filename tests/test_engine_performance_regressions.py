"""Guards for the fast paths of the filter evaluator and the pandas engine.

The planner benchmark (``benchmarks/planner.py``) and the replicate-weight
benchmark (``benchmarks/variance_vs_r.py``) rest on shortcuts that must not
change a single selected row or sum:

- :class:`MaskEvaluator` compares a categorical column on its categories and
  takes each row's result through the integer codes; it remembers every
  sub-expression, so several domains share work;
- the engine shares a sum between measures that are the same sum (equal
  domains, a value column of ones, counts under weights of 1);
- replicate totals are summed per cell x distinct row of replicate weights,
  the rows coded exactly (runs of equal rows in sorted files, a checked hash
  otherwise).

Each test states the slow, obvious computation and checks the fast one
against it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from migprofile.catalog.filters import (
    Expr,
    MaskEvaluator,
    Not,
    Or,
    parse_filter,
    to_pandas_mask,
)
from migprofile.compute.design import Design, DesignError
from migprofile.compute.engine import (
    PandasEngine,
    _combine,
    _distinct_rows,
    _factorize,
    _first_seen,
    _row_codes,
    _sorted_codes,
)
from migprofile.compute.estimate import estimate
from migprofile.compute.plan import Breakdown, Measure, Plan, PlanItem, Request, make_plan

# --------------------------------------------------------------------------- filters

CATEGORIES = ["MDA", "ROU", "_U", "UKR", "XXX"]


def _people(rng: np.random.Generator, n: int) -> pd.DataFrame:
    cob = rng.choice([*CATEGORIES[:4], None], size=n)
    return pd.DataFrame(
        {
            # categories in an order that is not the sort order, one unused
            "cob": pd.Categorical(cob, categories=["UKR", "MDA", "XXX", "ROU", "_U"]),
            "lf": pd.Categorical(rng.choice(["EMP", "UNE", None], size=n)),
            "age": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 90, n)),
            "resident": rng.random(n) < 0.9,
            "kids": pd.array(rng.integers(0, 4, n), dtype="Int64"),
        }
    )


FILTERS = [
    "cob == 'MDA'",
    "cob != 'MDA'",
    "cob < 'S'",
    "cob >= 'ROU'",
    "cob in ['MDA', 'XXX']",
    "cob not in ['XXX', '_T', '_U', '_X', '_Z']",
    "cob == 'nowhere'",
    "cob != 'nowhere'",
    "resident and cob != @home and cob not in ['XXX', '_U']",
    "resident and age >= 15 and lf in ['EMP', 'UNE']",
    "not (lf == 'EMP') or is_missing(lf)",
    "age >= 15 and lf == 'UNE' or kids > 2",
    "not (resident and (age < 15 or lf != 'EMP'))",
]


def _decoded(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its categorical columns as plain text columns."""
    return frame.assign(
        **{
            c: frame[c].astype(object).where(frame[c].notna(), None).astype("str")
            for c in frame.columns
            if isinstance(frame[c].dtype, pd.CategoricalDtype)
        }
    )


@pytest.mark.parametrize("seed", range(5))
def test_categories_select_the_rows_their_values_do(seed: int) -> None:
    frame = _people(np.random.default_rng(seed), 400)
    plain = _decoded(frame)
    params = {"home": "MDA"}
    shared = MaskEvaluator(frame, params)
    for text in FILTERS:
        expr = parse_filter(text)
        expected = to_pandas_mask(expr, plain, params).to_numpy()
        assert to_pandas_mask(expr, frame, params).to_numpy().tolist() == expected.tolist(), text
        assert shared.mask(expr).tolist() == expected.tolist(), text


def test_many_categories_and_object_categories() -> None:
    rng = np.random.default_rng(3)
    codes = [f"C{i:02d}" for i in range(40)]
    values = rng.choice([*codes[:30], None], size=500)
    frame = pd.DataFrame(
        {
            "c": pd.Categorical(values, categories=codes[::-1]),
            # object categories: an unused one of another type never matters
            "o": pd.Categorical(
                rng.choice(["a", "b", None], size=500),
                categories=pd.Index(["b", "a", 5], dtype=object),
            ),
        }
    )
    plain = _decoded(frame)
    for text in [
        "c in ['C01', 'C02', 'C03']",
        "c not in ['C01', 'C02', 'C03']",
        "c > 'C15'",
        "c <= 'C15'",
        "o == 'a'",
        "o < 'b'",
        "o not in ['a']",
    ]:
        expr = parse_filter(text)
        assert to_pandas_mask(expr, frame).tolist() == to_pandas_mask(expr, plain).tolist(), text


@given(st.lists(st.sampled_from(FILTERS), min_size=1, max_size=6), st.integers(0, 2**32 - 1))
def test_one_evaluator_gives_each_expression_its_own_mask(texts: list[str], seed: int) -> None:
    frame = _people(np.random.default_rng(seed), 60)
    params = {"home": "ROU"}
    shared = MaskEvaluator(frame, params)
    exprs: list[Expr] = [parse_filter(t) for t in texts]
    exprs.append(Or((exprs[0], Not(exprs[-1]))))
    for expr in exprs:
        alone = to_pandas_mask(expr, frame, params).to_numpy()
        assert shared.mask(expr).tolist() == alone.tolist()


def test_the_evaluator_remembers_and_protects_its_results() -> None:
    frame = _people(np.random.default_rng(1), 100)
    shared = MaskEvaluator(frame, {"home": "MDA"})
    inner = parse_filter("resident and cob != @home")
    first = shared.mask(inner)
    assert shared.mask(parse_filter("resident and cob != @home")) is first
    assert not first.flags.writeable
    # the frame's own columns are never handed out or written
    before = frame.copy()
    shared.mask(parse_filter("resident"))
    shared.mask(parse_filter("is_missing(age)"))
    pd.testing.assert_frame_equal(frame, before)
    # to_pandas_mask returns a mask the caller owns
    mask = to_pandas_mask(inner, frame, {"home": "MDA"})
    mask.iloc[0] = not mask.iloc[0]


def test_errors_are_raised_as_before() -> None:
    frame = _people(np.random.default_rng(2), 20)
    shared = MaskEvaluator(frame)
    with pytest.raises(KeyError):
        shared.mask(parse_filter("ghost == 1"))
    with pytest.raises(TypeError):
        shared.mask(parse_filter("cob == 1"))
    # an empty set is false whatever the column: it is never looked up
    empty = MaskEvaluator(frame, {"none": []})
    assert not empty.mask(parse_filter("ghost in @none")).any()
    assert empty.mask(parse_filter("ghost not in @none")).all()


# --------------------------------------------------------------------------- helpers


@given(st.lists(st.integers(0, 40), max_size=300))
def test_first_seen_and_sorted_codes(values: list[int]) -> None:
    key = np.asarray(values, dtype=np.int64)
    assert _first_seen(key, 41).tolist() == list(dict.fromkeys(values))
    ranks, found = _sorted_codes(key, 41)
    assert found.tolist() == sorted(set(values))
    assert found[ranks].tolist() == values


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4)), max_size=60))
def test_combine_one_and_several_breakdowns(pairs: list[tuple[int, int]]) -> None:
    a = np.asarray([p[0] for p in pairs], dtype=np.int64)
    b = np.asarray([p[1] for p in pairs], dtype=np.int64)
    n = len(pairs)
    cells, parts = _combine([a, b], [4, 5], n)
    combos = sorted(set(pairs))
    assert [tuple(int(x) for x in p) for p in zip(*parts, strict=True)] == combos
    assert [combos[c] for c in cells] == pairs
    one, (labels,) = _combine([a], [4], n)
    assert labels[one].tolist() == a.tolist()
    assert labels.tolist() == sorted(set(a.tolist()))


def test_categorical_breakdowns_are_coded_as_their_values() -> None:
    values = ["b", None, "_U", "a", "b", "c"]
    categorical = pd.Series(pd.Categorical(values, categories=["c", "_U", "b", "a", "zz"]))
    codes, labels = _factorize(categorical)
    as_objects = pd.Series(values, dtype=object)
    plain_codes, plain_labels = _factorize(as_objects.astype("category"))
    # categories order: c, b, a; missing values and _U last
    assert labels == ["c", "b", "a", "_U"]
    assert [labels[c] for c in codes] == ["b", "_U", "_U", "a", "b", "c"]
    assert [plain_labels[c] for c in plain_codes] == [labels[c] for c in codes]


# --------------------------------------------------------------------------- replicate rows


def _rows_of(columns: list[np.ndarray[Any, Any]]) -> list[tuple[float, ...]]:
    return [tuple(float(x) for x in row) for row in np.stack(columns, axis=1)]


def _check_codes(columns: list[np.ndarray[Any, Any]]) -> None:
    coded = _row_codes(columns, len(columns[0]))
    assert coded is not None
    codes, distinct = coded
    rows = _rows_of(columns)
    # every record's row is its code's distinct row ...
    assert [tuple(float(x) for x in distinct[c]) for c in codes] == rows
    # ... and records with unequal rows never share a code
    for c in np.unique(codes):
        assert len({rows[i] for i in np.flatnonzero(codes == c)}) == 1


@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.5, 80 / 79])),
        min_size=1,
        max_size=80,
    ),
    st.booleans(),
)
def test_rows_of_replicate_weights_are_coded_exactly(
    records: list[tuple[int, float]], in_runs: bool
) -> None:
    if in_runs:
        records = sorted(records, key=lambda r: r[0])
    unit = np.asarray([r[0] for r in records])
    scale = np.asarray([r[1] for r in records])
    columns = [np.where(unit % (j + 2) == 0, 0.0, scale * (j + 1)) for j in range(5)]
    _check_codes(columns)


def test_rows_differing_only_in_signs_get_different_codes() -> None:
    # a linear hash modulo 2**64 of the bits would confuse these rows
    rng = np.random.default_rng(5)
    base = rng.uniform(1, 2, size=(300, 6))
    signs = np.where(rng.random((300, 6)) < 0.5, -1.0, 1.0)
    rows = np.concatenate([base, base * signs])
    order = rng.permutation(len(rows))
    _check_codes([rows[order, j] for j in range(6)])
    _check_codes([np.sort(rows[:, j]) for j in range(6)])


def test_a_hash_collision_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    # rows (1, 3), (3, 1) and (2, 2) collide under the hash a * x + b * y
    # when a == b: force equal coefficients
    class Ones:
        def __init__(self, seed: int) -> None:
            pass

        def uniform(self, low: float, high: float, size: int) -> np.ndarray[Any, Any]:
            return np.ones(size)

    monkeypatch.setattr(np.random, "default_rng", Ones)
    columns = [np.asarray([1.0, 3.0, 1.0, 2.0]), np.asarray([3.0, 1.0, 3.0, 2.0])]
    coded = _distinct_rows(columns, 4)
    assert coded is not None
    codes, distinct = coded
    assert [tuple(distinct[c]) for c in codes] == [(1.0, 3.0), (3.0, 1.0), (1.0, 3.0), (2.0, 2.0)]


def test_a_missing_replicate_weight_is_reported_by_column() -> None:
    frame = pd.DataFrame(
        {"y": [1.0, 2.0, 3.0], "w": [1.0, 1.0, 1.0], "r1": [1.0, 1.0, 1.0],
         "r2": [1.0, np.nan, 1.0]}
    )
    design = Design(weights="w", replicate_weights=["r1", "r2"], replicate_method="JK1")
    with pytest.raises(DesignError, match="'r2' has missing values"):
        estimate(frame, "mean", "y", design=design)


def _replicate_frame(n: int, sort: bool, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    psu = rng.integers(0, 40, n)
    if sort:
        psu = np.sort(psu)
    w = rng.uniform(1, 3, 40)[psu]
    group = rng.integers(0, 4, 40)[psu]
    reps = {
        f"rep{r}": w * np.where(group == r, 0.0, 4 / 3) for r in range(4)
    }
    return pd.DataFrame(
        {
            "g": rng.choice(["a", "b", "c"], n),
            "y": np.where(rng.random(n) < 0.1, np.nan, rng.normal(10, 3, n)),
            "w": w,
            **reps,
        }
    )


@pytest.mark.parametrize("sort", [True, False])
def test_replicate_totals_are_the_weighted_sums(sort: bool) -> None:
    frame = _replicate_frame(500, sort, 7)
    reps = [f"rep{r}" for r in range(4)]
    design = Design(weights="w", replicate_weights=reps, replicate_method="JK1")
    plan = make_plan(
        [Request("mean", y="y", by=(Breakdown("g"),)), Request("total", y="y")], design
    )
    sums = PandasEngine().run(plan, frame)
    y = frame["y"].fillna(0.0).to_numpy()
    present = frame["y"].notna().to_numpy()
    for grouping, cs in zip(plan.groupings, sums.groupings, strict=True):
        for i, keys in cs.keys.iterrows():
            inside = np.ones(len(frame), dtype=bool)
            for b in grouping.breakdowns:
                inside &= (frame[b.column] == keys[b.name]).to_numpy()
            for m in plan.measures:
                if not m.weighted:
                    continue
                value = y if m.value == "y" else np.ones(len(frame))
                for r, col in enumerate(reps):
                    expected = float((frame[col].to_numpy() * value)[inside & present].sum())
                    got = float(cs.replicates[(m.name, r)].iloc[i])
                    assert got == pytest.approx(expected, rel=1e-12, abs=1e-9)


def test_sorted_and_shuffled_records_give_the_same_estimates() -> None:
    frame = _replicate_frame(800, True, 11)
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    design = Design(
        weights="w", replicate_weights=[f"rep{r}" for r in range(4)], replicate_method="JK1"
    )
    a = estimate(frame, "mean", "y", by="g", design=design)
    b = estimate(shuffled, "mean", "y", by="g", design=design)
    for col in ("value", "se", "df", "n"):
        np.testing.assert_allclose(b[col].to_numpy(float), a[col].to_numpy(float), rtol=1e-12)


# --------------------------------------------------------------------------- shared sums


def test_equal_sums_are_shared_and_equal() -> None:
    rng = np.random.default_rng(4)
    n = 300
    frame = pd.DataFrame(
        {
            "g": rng.choice(["a", "b"], n),
            "d": rng.random(n) < 0.6,
            "_one": np.ones(n),
            "y": rng.normal(size=n),
            "w": np.where(rng.random(n) < 0.1, 0.0, rng.uniform(1, 2, n)),
        }
    )
    d = parse_filter("d")
    measures = (
        Measure("plain", d),
        Measure("ones", d, "_one", ("_one",)),
        Measure("count", d, weighted=False),
        Measure("either", Or((d, parse_filter("d and y > 0")))),
        Measure("values", d, "y", ("y",)),
    )
    items = (PlanItem(0, "total", 0, "plain", None, "count"),)
    for design in (None, Design(weights="w")):
        plan = Plan(design, measures, (make_plan([Request("count")]).groupings[0],), items)
        totals = PandasEngine().run(plan, frame).groupings[0].totals
        w = frame["w"].to_numpy() if design is not None else np.ones(n)
        inside = frame["d"].to_numpy()
        assert totals["plain"].iloc[0] == pytest.approx(w[inside].sum(), rel=1e-12)
        assert totals["ones"].iloc[0] == totals["plain"].iloc[0]
        assert totals["either"].iloc[0] == totals["plain"].iloc[0]
        assert totals["count"].iloc[0] == float((inside & (w != 0)).sum())
        expected = (w * frame["y"].to_numpy())[inside].sum()
        assert totals["values"].iloc[0] == pytest.approx(expected, rel=1e-12)


def test_a_value_missing_inside_its_domain_counts_as_zero() -> None:
    # a hand-made plan whose value column is not required present: its sum
    # skips the missing values, as groupby().sum()
    frame = pd.DataFrame({"g": ["a", "a", "b"], "y": [1.0, np.nan, 2.0]})
    plan = Plan(
        None,
        (Measure("m", None, "y"), Measure("n", None, weighted=False)),
        (make_plan([Request("count", by=(Breakdown("g"),))]).groupings[0],),
        (PlanItem(0, "total", 0, "m", None, "n"),),
    )
    totals = PandasEngine().run(plan, frame).groupings[0].totals
    assert totals["m"].tolist() == [1.0, 2.0]


def test_replicate_totals_when_most_rows_of_weights_differ() -> None:
    # every record has its own row of replicate weights (and there are more
    # cells x rows than records): the sums go by the pairs that occur
    rng = np.random.default_rng(8)
    n = 70_000
    frame = pd.DataFrame(
        {
            "g": rng.choice(["a", "b", "c", "d"], n),
            "y": rng.normal(10, 3, n),
            "w": rng.uniform(1, 2, n),
            "r0": rng.uniform(0, 2, n),
            "r1": rng.uniform(0, 2, n),
        }
    )
    design = Design(weights="w", replicate_weights=["r0", "r1"], replicate_method="bootstrap")
    plan = make_plan([Request("total", y="y", by=(Breakdown("g"),))], design)
    cs = PandasEngine().run(plan, frame).groupings[0]
    name = plan.items[0].numerator
    assert name is not None
    for i, g in enumerate(cs.keys["g"]):
        inside = (frame["g"] == g).to_numpy()
        for r, col in enumerate(["r0", "r1"]):
            expected = float((frame[col] * frame["y"]).to_numpy()[inside].sum())
            assert float(cs.replicates[(name, r)].iloc[i]) == pytest.approx(expected, rel=1e-11)
