"""Property tests of harmonisation: nothing is lost.

For random source frames and crosswalks, the weighted total over all
harmonised codes, the unknown code included, equals the input's; rows read
equal rows kept plus rows rejected; and chunking does not change the result.
"""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

import migprofile as mp
from migprofile.sources import mapping_from_dict
from migprofile.sources.harmonise import Context, TableTally, harmonise_chunk
from migprofile.sources.readers import RawTable

CATALOG = mp.load_catalog()
SOURCE_CODES = ["1", "2", "3", "4", "9", "77", "x"]
TARGETS = ["M", "F", "_O", "_U"]


@st.composite
def cases(draw: st.DrawFn) -> tuple[pd.DataFrame, dict[str, str], str]:
    n = draw(st.integers(min_value=0, max_value=40))
    codes = draw(st.lists(st.sampled_from([*SOURCE_CODES, None]), min_size=n, max_size=n))
    weights = draw(
        st.lists(
            st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda w: round(w, 3)),
            min_size=n,
            max_size=n,
        )
    )
    mapped = draw(st.dictionaries(st.sampled_from(SOURCE_CODES), st.sampled_from(TARGETS)))
    policy = draw(st.sampled_from(["unknown", "fail"]))
    frame = pd.DataFrame(
        {
            "SEX": pd.array(codes, dtype="string"),
            "W": pd.array([str(w) for w in weights], dtype="string"),
        }
    )
    return frame, mapped, policy


def _mapping(mapped: dict[str, str], policy: str) -> mp.sources.SourceMapping:
    return mapping_from_dict(
        {
            "id": "prop",
            "name": "property test",
            "kind": "survey",
            "reference_period": "2024",
            "crosswalks": [
                {
                    "id": "sx",
                    "name": "random",
                    "target": "sex",
                    "unmapped": "unknown",
                    "unknown_code": "_U",
                    "map": [{"from": k, "to": v} for k, v in sorted(mapped.items())],
                }
            ],
            "tables": {
                "persons": {
                    "files": [{"path": "unused.csv"}],
                    "unmapped": policy,
                    "columns": {
                        "sex": {"source": "SEX", "crosswalk": "sx"},
                        "weight": "W",
                    },
                }
            },
        }
    )


def _harmonise(
    frame: pd.DataFrame, mapping: mp.sources.SourceMapping, chunk: int | None
) -> tuple[pd.DataFrame, TableTally]:
    tm = mapping.tables["persons"]
    crosswalks = {c.id: c for c in mapping.crosswalks}
    ctx = Context(CATALOG, crosswalks, {})
    tally = TableTally("persons")
    size = chunk or max(len(frame), 1)
    parts = [
        harmonise_chunk(
            RawTable(frame.iloc[i : i + size].reset_index(drop=True), "mem.csv", "csv", i + 1),
            "persons",
            tm,
            ctx,
            tally,
        )
        for i in range(0, max(len(frame), 1), size)
    ]
    return pd.concat(parts, ignore_index=True), tally


@given(cases(), st.sampled_from([None, 1, 3, 7]))
def test_weighted_total_is_kept_across_all_codes(
    case: tuple[pd.DataFrame, dict[str, str], str], chunk: int | None
) -> None:
    frame, mapped, policy = case
    out, tally = _harmonise(frame, _mapping(mapped, policy), chunk)
    assert tally.rows_read == len(frame)
    assert tally.rows_read == tally.rows_kept + sum(r.count for r in tally.rejections())
    weights = frame["W"].astype(float)
    if policy == "unknown":
        # every row is kept: mapped codes, the unknown code and missing values
        assert tally.rows_kept == len(frame)
        assert abs(out["weight"].sum() - weights.sum()) <= 1e-9 * max(1.0, weights.sum())
        by_code = out.groupby("sex", observed=True, dropna=False)["weight"].sum()
        assert abs(by_code.sum() - weights.sum()) <= 1e-9 * max(1.0, weights.sum())
    else:
        # rows with unmapped codes are rejected, and their weight is what is missing
        unmapped = frame["SEX"].notna() & ~frame["SEX"].isin(list(mapped))
        assert tally.rows_kept == int((~unmapped).sum())
        assert abs(out["weight"].sum() - weights[~unmapped].sum()) <= 1e-9 * max(1.0, weights.sum())
    # each source code lands where the crosswalk says
    expected = [None if pd.isna(c) else mapped.get(c, "_U") for c in frame["SEX"].astype(object)]
    if policy == "unknown":
        got = out["sex"].astype(object).where(out["sex"].notna(), None)
        assert got.tolist() == expected
    col = tally.columns["sex"].freeze()
    assert sum(v.count for v in col.unmapped) == int(
        (frame["SEX"].notna() & ~frame["SEX"].isin(list(mapped))).sum()
    )
