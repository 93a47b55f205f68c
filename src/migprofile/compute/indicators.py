"""``compute()``: catalogue indicators, disaggregated, as one result table.

Every requested indicator × breakdown grouping (and the margins) of one
harmonised table becomes one aggregation plan, run in one engine pass; the
estimators then work on the small aggregated sums. Indicators whose numerator
and denominator come from different tables (emigrants from the mirror series
over residents from persons) are computed as two totals and combined.

Breakdowns are dimension names, optionally at a level or named set of their
codelist: ``"sex"``, ``"country_of_birth:subregion"`` (countries rolled up
through the M49 hierarchy), ``"age:five_year"`` or ``"age:mics_child_groups"``
(numeric ages grouped by the age codelist), ``"education:aggregate"``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from statistics import NormalDist
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from migprofile.catalog import filters as flt
from migprofile.catalog.filters import Expr, parse_filter
from migprofile.catalog.loader import Catalog, load_catalog
from migprofile.catalog.models import Indicator, Term
from migprofile.compute.design import Design
from migprofile.compute.disclosure import DisclosureRules, apply_disclosure
from migprofile.compute.engine import Engine
from migprofile.compute.estimate import estimate_many
from migprofile.compute.plan import Breakdown, Request, and_domains
from migprofile.errors import MigprofileError

__all__ = [
    "ComputeError",
    "ParameterError",
    "Tabulation",
    "compute",
    "compute_many",
    "parse_breakdown",
    "resolve_code_sets",
]

TOTAL = "_T"
_ONE = "_one"


class ComputeError(ValueError, MigprofileError):
    """An indicator cannot be computed as asked; the message says which and why."""


class ParameterError(ComputeError):
    """A definitional parameter an indicator needs is not set, or has a value
    it cannot use: a fault of the request, not a lack of data."""


@dataclass(frozen=True)
class _By:
    """A requested breakdown resolved against the catalogue."""

    dimension: str
    level: str | None

    @property
    def column(self) -> str:
        return self.dimension if self.level is None else f"_by_{self.dimension}_{self.level}"


# Result columns that a breakdown must not collide with while the table is
# built: a breakdown by the series' ref_area (the destination of a mirror
# table) is renamed, then folded back into the result's ref_area column.
_HEAD_COLUMNS = ("indicator", "ref_period", "ref_area")


def _output_name(dimension: str) -> str:
    return f"_by_{dimension}" if dimension in _HEAD_COLUMNS else dimension


def parse_breakdown(text: str, catalog: Catalog) -> tuple[str, str | None]:
    """``"dim"`` or ``"dim:level"`` → (dimension, level or set), checked."""
    dimension, _, level = text.partition(":")
    dim = catalog.dimensions.get(dimension)
    if dim is None:
        raise ComputeError(f"breakdown {text!r}: no dimension {dimension!r} in the catalogue")
    if dim.codelist is None:
        raise ComputeError(f"breakdown {text!r}: {dimension!r} has no codelist to break down by")
    if level:
        codelist = catalog.codelist(dim.codelist)
        if not codelist.has_name(level):
            raise ComputeError(
                f"breakdown {text!r}: codelist {codelist.id!r} has no level or set {level!r}; "
                f"levels: {', '.join(lv.id for lv in codelist.levels)}; "
                f"sets: {', '.join(codelist.sets)}"
            )
    if dim.kind == "numeric" and not level:
        raise ComputeError(
            f"breakdown {text!r}: {dimension!r} is numeric; name the groups, e.g. "
            f"'{dimension}:five_year'"
        )
    return dimension, level or None


# A harmonised table: a DataFrame, or the path of a Parquet file (a table of
# a ScannedDataset), which is never loaded: its columns come from the schema
# and breakdowns are mappings the engine applies.
Table: TypeAlias = "pd.DataFrame | str"

#: Ages a numeric breakdown of a file table maps, beside the values found in it.
_FILE_AGES = range(0, 151)


def _is_file(table: object) -> bool:
    return isinstance(table, str | PurePath)


def _columns_of(table: Table) -> list[str]:
    """The column names of a table (a file's from its Parquet schema)."""
    if isinstance(table, pd.DataFrame):
        return [str(c) for c in table.columns]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    return [str(n) for n in pq.read_schema(str(table)).names]


def _with_one(table: Table) -> Table:
    """The table with the constant column compute's shares and counts use; a
    file table must carry it (scan_source writes it)."""
    if isinstance(table, pd.DataFrame):
        return table.assign(**{_ONE: 1.0})
    if _ONE not in _columns_of(table):
        raise ComputeError(
            f"the table file {table} has no {_ONE!r} column (1.0); tables written by "
            "migprofile.scan_source have it"
        )
    return table


def _file_values(path: str, column: str) -> list[Any]:
    """The distinct values of one column of a Parquet file, read batch by batch."""
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    import pyarrow.parquet as pq

    found: set[Any] = set()
    for batch in pq.ParquetFile(path).iter_batches(columns=[column], batch_size=1 << 20):
        found.update(pc.unique(batch.column(0)).to_pylist())
    return [v for v in found if v is not None and not (isinstance(v, float) and v != v)]


def _file_weights_are_one(path: str, column: str) -> bool:
    """Whether every weight of a Parquet file is 1 or missing, read batch by batch."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(columns=[column], batch_size=1 << 20):
        values = batch.column(0)
        ok = pc.or_kleene(pc.equal(values, 1), pc.is_null(values, nan_is_null=True))
        if not pc.all(pc.fill_null(ok, True)).as_py():
            return False
    return True


def _add_breakdown_column(frame: Table, by: _By, catalog: Catalog) -> tuple[Table, Breakdown]:
    """The frame with the column a breakdown groups by, and the breakdown.

    A file table is left as it is: a breakdown at a level becomes a mapping
    of the column's values that the engine applies (for a numeric dimension,
    every age 0..150 and every value found in the file, to its group)."""
    if by.dimension not in _columns_of(frame):
        raise ComputeError(f"breakdown {by.dimension!r}: the data has no such column")
    if by.level is None:
        return frame, Breakdown(by.dimension, name=_output_name(by.dimension))
    dim = catalog.dimension(by.dimension)
    codelist = catalog.codelist(dim.codelist or "")
    if dim.kind == "numeric":
        from migprofile.catalog.age import bin_ages

        groups = codelist.group_codes(by.level)
        if not isinstance(frame, pd.DataFrame):
            values = sorted(
                {*(float(a) for a in _FILE_AGES), *_file_values(str(frame), by.dimension)}
            )
            ages = pd.Series(values, dtype="float64")
            binned_values = bin_ages(ages, list(groups), outside="_X")
            age_map = dict(zip(values, binned_values.tolist(), strict=True))
            return frame, Breakdown.of(by.dimension, age_map, name=_output_name(by.dimension))
        # ages the groups do not cover (adults, for the MICS child groups) form
        # the cell _X; they are outside the indicators' domains in practice
        binned = bin_ages(frame[by.dimension], list(groups), outside="_X")
        return frame.assign(**{by.column: binned}), Breakdown(
            by.column, name=_output_name(by.dimension)
        )
    # a coded dimension shown at a coarser level: map every code to its ancestor
    if by.level in codelist.sets:
        members = set(codelist.sets[by.level])
        mapping = {}
        for code in codelist.ids:
            chain = (code, *codelist.ancestors(code))
            mapping[code] = next((c for c in chain if c in members), "_X")
    else:
        mapping = {code: codelist.roll_up(code, by.level) or "_X" for code in codelist.ids}
    return frame, Breakdown.of(by.dimension, mapping, name=_output_name(by.dimension))


def _groupings(
    bys: Sequence[_By], margins: bool | Sequence[Sequence[str]]
) -> list[tuple[_By, ...]]:
    if margins is True:
        return [
            tuple(b for b in bys if b in subset)
            for r in range(len(bys), -1, -1)
            for subset in itertools.combinations(bys, r)
        ]
    if margins is False:
        return [tuple(bys)]
    out = [tuple(bys)]
    for names in margins:
        chosen = tuple(b for b in bys if b.dimension in set(names))
        if len(chosen) != len(set(names)):
            raise ComputeError(f"margin {list(names)} names a dimension that is not broken down")
        if chosen not in out:
            out.append(chosen)
    return out


def _tables(data: Any) -> tuple[dict[str, Table], Any]:
    from migprofile.sources.read import Dataset
    from migprofile.sources.scan import ScannedDataset

    if isinstance(data, Dataset):
        return dict(data.tables), data
    if isinstance(data, ScannedDataset):
        return dict(data.tables), data
    if isinstance(data, pd.DataFrame):
        return {"persons": data}, None
    if isinstance(data, Mapping):
        return {str(k): v for k, v in data.items()}, None
    raise TypeError(
        "compute() takes a Dataset, a ScannedDataset, a DataFrame (the persons table) or a "
        f"mapping of table names to DataFrames, not {type(data).__name__}"
    )


def _design_for(frame: Table, dataset: Any, design: Design | None) -> Design | None:
    """The design of a table: given, declared by the source, or none.

    A source without a declared design is a complete enumeration (census,
    register, published table): its standard errors are 0. If its rows carry
    weights other than 1 (a census long-form sample, say) they are used, and
    the rows are then treated as a with-replacement sample of records.
    """
    if design is not None:
        return design
    if dataset is not None and dataset.design is not None:
        candidate = Design.from_spec(dataset.design)
        named = [c for c in dataset.design.columns() if c]
        present = _columns_of(frame)
        if all(c in present for c in named):
            return candidate
    if not isinstance(frame, pd.DataFrame):
        if "weight" not in _columns_of(frame) or _file_weights_are_one(str(frame), "weight"):
            return None
        return Design(weights="weight")
    if "weight" in frame.columns:
        weights = frame["weight"]
        if bool(((weights == 1) | weights.isna()).all()):
            return None
        return Design(weights="weight")
    return None


def resolve_code_sets(expr: Expr, catalog: Catalog) -> Expr:
    """The expression with every ``codelist.set`` replaced by its literal codes,
    so that engines (pandas, SQL, Dask) need no catalogue to evaluate it."""
    if isinstance(expr, flt.InSet) and isinstance(expr.values, flt.CodeRef):
        codes = sorted(catalog.resolve(expr.values))
        return flt.InSet(expr.column, tuple(flt.Literal(c) for c in codes), expr.negated)
    if isinstance(expr, flt.And):
        return flt.And(tuple(resolve_code_sets(e, catalog) for e in expr.items))
    if isinstance(expr, flt.Or):
        return flt.Or(tuple(resolve_code_sets(e, catalog) for e in expr.items))
    if isinstance(expr, flt.Not):
        return flt.Not(resolve_code_sets(expr.item, catalog))
    return expr


def _term_expr(catalog: Catalog, term: Term) -> Expr:
    return resolve_code_sets(catalog.expr_of(term), catalog)


def _request(
    ind: Indicator,
    catalog: Catalog,
    by: tuple[Breakdown, ...],
    where: Expr | None,
) -> Request:
    if ind.numerator is None:  # a derived indicator: computed by _derived
        raise ComputeError(f"{ind.id}: a {ind.measure} indicator has no numerator")
    num = and_domains(_term_expr(catalog, ind.numerator), where)
    label = ind.id
    if ind.measure == "count":
        return Request("count", by=by, where=num, label=label)
    if ind.measure == "total":
        return Request("total", y=ind.numerator.variable, by=by, where=num, label=label)
    if ind.measure == "mean":
        return Request("mean", y=ind.numerator.variable, by=by, where=num, label=label)
    if ind.measure == "median":
        return Request(
            "quantile", y=ind.numerator.variable, by=by, where=num, prob=0.5, label=label
        )
    if ind.denominator is None:  # excluded by Indicator's own checks
        raise ComputeError(f"{ind.id}: a {ind.measure} needs a denominator")
    den = and_domains(_term_expr(catalog, ind.denominator), where)
    if ind.measure == "share":
        # Σw[num ∧ den] / Σw[den]: a record whose numerator condition is unknown
        # (a missing whereabouts) stays in the denominator, as MICS tabulates;
        # estimate() 'share' would drop it like R's na.rm, which is not the
        # catalogue's definition.
        return Request(
            "ratio",
            y=_ONE,
            x=_ONE,
            by=by,
            where=and_domains(den, _term_expr(catalog, ind.numerator)),
            denominator_where=den,
            multiplier=ind.multiplier,
            label=label,
        )
    return Request(
        "ratio",
        y=ind.numerator.variable or _ONE,
        x=ind.denominator.variable or _ONE,
        by=by,
        where=num,
        denominator_where=den,
        multiplier=ind.multiplier,
        label=label,
    )


def _params(
    catalog: Catalog, dataset: Any, params: Mapping[str, object] | None
) -> dict[str, object]:
    out: dict[str, object] = {
        p.id: p.default for p in catalog.parameters.values() if p.default is not None
    }
    if dataset is not None:
        out["ref_year"] = dataset.mapping.year
        out.update(dataset.mapping.parameters)
    out.update(params or {})
    # the first year of the "recent" window: returns (or arrivals) in the
    # recent_years calendar years before the reference year, or in it
    ref_year, recent = out.get("ref_year"), out.get("recent_years")
    if "recent_since_year" not in out and isinstance(ref_year, int) and isinstance(recent, int):
        out["recent_since_year"] = ref_year - recent
    return out


def _used_params(ind: Indicator, params: Mapping[str, object]) -> str:
    return ";".join(f"{p}={params[p]}" for p in ind.parameters if p in params)


def _finish(
    table: pd.DataFrame,
    indicators: Mapping[str, Indicator],
    params: Mapping[str, object],
    dims: Sequence[str],
) -> pd.DataFrame:
    if table.empty:
        return table
    table = table.copy()
    ind_ids = table["indicator"].astype(str)
    table["unit"] = ind_ids.map({i: ind.unit for i, ind in indicators.items()})
    area = params.get("reporting_country")
    table["ref_area"] = str(area) if area is not None else None
    for head in _HEAD_COLUMNS:
        renamed = _output_name(head)
        if renamed != head and renamed in table.columns:
            # the breakdown's codes (destinations); its margin rows keep the
            # reporting area, unless the indicator is not about the reporting
            # country (published tables of all countries): then the margin is
            # the total of the areas in the data, _T
            codes = table.pop(renamed).astype(object)
            about_areas = ind_ids.map(
                {i: "reporting_country" not in ind.parameters for i, ind in indicators.items()}
            ).astype(bool)
            margin = table[head].where(~about_areas, TOTAL)
            table[head] = codes.where(codes != TOTAL, margin)
    # a ratio whose denominator is empty in a cell has no value
    value = table["value"].astype(float)
    empty = ~np.isfinite(value) & value.notna()
    if empty.any():
        table.loc[empty, ["value", "se", "ci_lower", "ci_upper", "cv"]] = np.nan
        table.loc[empty, "findings"] = (
            table.loc[empty, "findings"].astype(str) + " EMPTY_DENOMINATOR"
        ).str.strip()
    table["parameters"] = ind_ids.map(
        {i: _used_params(ind, params) for i, ind in indicators.items()}
    )
    for dim in dims:
        if dim in _HEAD_COLUMNS:
            continue
        if dim not in table.columns:
            table[dim] = TOTAL
        table[dim] = table[dim].astype(object)
    return table


def _cross_table(
    ind: Indicator,
    tables: Mapping[str, Table],
    catalog: Catalog,
    groupings: Sequence[tuple[_By, ...]],
    where: Expr | None,
    params: Mapping[str, object],
    dataset: Any,
    design: Design | None,
    engine: str | Engine,
) -> pd.DataFrame:
    """A ratio whose numerator and denominator come from two tables: two totals
    (each with its own design), combined cell by cell; the standard error by
    the delta method, the two tables being independent samples."""
    if ind.numerator is None or ind.denominator is None:
        raise ComputeError(f"{ind.id}: a {ind.measure} needs a numerator and a denominator")
    parts = []
    for role, term in (("num", ind.numerator), ("den", ind.denominator)):
        table_name = catalog.table_of(term)
        frame = _with_one(tables[table_name])
        present = _columns_of(frame)
        requests = []
        for grouping in groupings:
            usable = tuple(b for b in grouping if b.dimension in present)
            bys = []
            for b in usable:
                frame, breakdown = _add_breakdown_column(frame, b, catalog)
                bys.append(breakdown)
            requests.append(
                Request(
                    "total",
                    y=term.variable or _ONE,
                    by=tuple(bys),
                    where=and_domains(_term_expr(catalog, term), where),
                    label=f"{role}|{'|'.join(b.dimension for b in grouping)}",
                )
            )
        parts.append(
            estimate_many(
                frame,
                requests,
                _design_for(frame, dataset, design),
                engine=engine,
                params=params,
            )
        )
    num, den = parts
    dims = sorted({b.dimension for g in groupings for b in g})
    rows = []
    for label in num["indicator"].unique():
        grouping_dims = [d for d in str(label).split("|")[1:] if d]
        key_names = [_output_name(d) for d in grouping_dims]
        n_part = num[num["indicator"] == label]
        d_part = den[den["indicator"] == "den|" + "|".join(grouping_dims)]
        keys = [d for d in key_names if d in d_part.columns and (d_part[d] != TOTAL).any()]
        merged = (
            n_part.merge(
                d_part[[*keys, "value", "se", "n"]], on=keys, how="left", suffixes=("", "_den")
            )
            if keys
            else n_part.assign(
                value_den=float(d_part["value"].iloc[0]) if len(d_part) else np.nan,
                se_den=float(d_part["se"].iloc[0]) if len(d_part) else np.nan,
                n_den=int(d_part["n"].iloc[0]) if len(d_part) else 0,
            )
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            value = merged["value"] / merged["value_den"] * ind.multiplier
            rel = np.sqrt(
                (merged["se"] / merged["value"]) ** 2
                + (merged["se_den"] / merged["value_den"]) ** 2
            )
            se = np.where((merged["se"] == 0) & (merged["se_den"] == 0), 0.0, np.abs(value) * rel)
        out = merged.drop(columns=["value_den", "se_den", "n_den"]).assign(
            indicator=ind.id, value=value, se=se, cv=se / np.abs(value)
        )
        out["ci_lower"] = np.where(se == 0, value, out["ci_lower"] * np.nan)
        out["ci_upper"] = np.where(se == 0, value, out["ci_upper"] * np.nan)
        # keep the parts' codes (NO_SAMPLING_ERROR of a census, say)
        out["findings"] = (out["findings"].astype(str) + " CROSS_TABLE").str.strip()
        rows.append(out)
    result: pd.DataFrame = pd.concat(rows, ignore_index=True)
    for dim in dims:
        if _output_name(dim) not in result.columns:
            result[_output_name(dim)] = TOTAL
    return result


def _check_computable(
    ind: Indicator,
    tables: Mapping[str, Table],
    catalog: Catalog,
    params: Mapping[str, object],
) -> None:
    absent = [catalog.table_of(t) for t in ind.terms() if catalog.table_of(t) not in tables]
    if absent:
        raise ComputeError(
            f"{ind.id} needs the {', '.join(sorted(set(absent)))} table, which the data lacks"
        )
    unset = [p for p in ind.parameters if p not in params]
    filters_use = {p for t in ind.terms() for p in flt.params(catalog.expr_of(t))}
    missing_params = sorted(filters_use & set(unset))
    if missing_params:
        raise ParameterError(
            f"{ind.id} needs the parameter(s) {missing_params}; pass them in params="
        )


@dataclass(frozen=True)
class _Run:
    """What every indicator of one compute() call shares."""

    tables: Mapping[str, Table]
    dataset: Any
    catalog: Catalog
    engine: str | Engine
    design: Design | None
    level: float
    ci_method: str


def _compute_raw(
    run: _Run,
    inds: Mapping[str, Indicator],
    bys: Sequence[_By],
    margins: bool | Sequence[Sequence[str]],
    where_expr: Expr | None,
    params: Mapping[str, object],
) -> pd.DataFrame:
    """The estimates of ``inds`` before the result table is finished: breakdown
    columns under their output names, margins coded ``_T``."""
    catalog, tables = run.catalog, run.tables
    groupings = _groupings(bys, margins)
    for ind in inds.values():
        _check_computable(ind, tables, catalog, params)
    results: list[pd.DataFrame] = []
    by_table: dict[str, list[Indicator]] = {}
    for ind in inds.values():
        if ind.is_derived:
            results.append(_derived(run, ind, bys, margins, where_expr, params))
            continue
        tables_used = {catalog.table_of(t) for t in ind.terms()}
        if len(tables_used) > 1:
            results.append(
                _cross_table(
                    ind,
                    tables,
                    catalog,
                    groupings,
                    where_expr,
                    params,
                    run.dataset,
                    run.design,
                    run.engine,
                )
            )
        else:
            by_table.setdefault(tables_used.pop(), []).append(ind)
    for table_name, group in by_table.items():
        prep = _Prepared(
            {i.id: i for i in group}, list(bys), margins, where_expr, dict(params), None
        )
        results.append(_shared_pass(run, [(0, prep)], table_name)[0])
    kept = [r for r in results if not r.empty]
    if not kept:
        return pd.DataFrame()
    out = pd.concat(kept, ignore_index=True)
    for b in bys:
        name = _output_name(b.dimension)
        if name not in out.columns:
            out[name] = TOTAL
    return out


def _input_params(
    ind: Indicator, role: str, shift: Mapping[str, int], params: Mapping[str, object]
) -> dict[str, object]:
    out = dict(params)
    for name, step in shift.items():
        value = params.get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ParameterError(
                f"{ind.id}: input {role!r} moves parameter {name!r} by {step}, which needs "
                f"an integer value of it; got {value!r}"
            )
        out[name] = value + step
    return out


def _requested(frame: pd.DataFrame, keys: Sequence[str], groupings: list[tuple[_By, ...]]) -> Any:
    """Rows whose pattern of margins is one of the requested groupings."""
    wanted = {frozenset(_output_name(b.dimension) for b in g) for g in groupings}
    if not keys:
        return np.ones(len(frame), dtype=bool)
    detail = [frozenset(k for k in keys if str(row[k]) != TOTAL) for _, row in frame.iterrows()]
    return np.array([d in wanted for d in detail], dtype=bool)


def _derived(
    run: _Run,
    ind: Indicator,
    bys: Sequence[_By],
    margins: bool | Sequence[Sequence[str]],
    where_expr: Expr | None,
    params: Mapping[str, object],
) -> pd.DataFrame:
    """A derived indicator: its inputs computed like any indicator (same data,
    breakdowns and domain), then combined by its calculator."""
    from migprofile.compute.calculators import CalcContext, get_calculator

    calc = get_calculator(ind.calculator or "")
    catalog = run.catalog
    keys = [_output_name(b.dimension) for b in bys]
    inputs: dict[str, pd.DataFrame] = {}
    over: dict[str, str] = {}
    input_units: dict[str, str] = {}
    extra: list[_By] = []
    for role, spec in ind.inputs.items():
        try:
            input_id = spec.pick(params)
        except KeyError as exc:
            raise ParameterError(f"{ind.id}: input {role!r}: {exc.args[0]}") from None
        input_ind = catalog.indicator(input_id)
        input_bys = list(bys)
        input_margins = margins
        if spec.over is not None:
            over_by = _By(*parse_breakdown(spec.over, catalog))
            if all(b.dimension != over_by.dimension for b in input_bys):
                input_bys.append(over_by)
                if calc.keeps_over:
                    extra.append(over_by)
            over[role] = _output_name(over_by.dimension)
            input_margins = True
        domain = where_expr
        if spec.where is not None:
            domain = and_domains(where_expr, resolve_code_sets(parse_filter(spec.where), catalog))
        raw = _compute_raw(
            run,
            {input_id: input_ind},
            input_bys,
            input_margins,
            domain,
            _input_params(ind, role, spec.shift, params),
        )
        if raw.empty:
            names = ["indicator", *keys, *over.values(), "value", "se", "n", "findings"]
            columns = list(dict.fromkeys(names))  # the "over" dimension may be a key too
            raw = pd.DataFrame(columns=columns)
        frame = raw[raw["indicator"] == input_id].copy()
        for col in [*keys, *over.values()]:
            if col in frame.columns:
                frame[col] = frame[col].astype(object)
        inputs[role] = frame.reset_index(drop=True)
        input_units[role] = input_ind.unit
    out_keys = [*keys, *(_output_name(b.dimension) for b in extra)]
    ctx = CalcContext(
        indicator=ind,
        inputs=inputs,
        keys=tuple(out_keys),
        over=over,
        input_units=input_units,
        options=ind.options,
    )
    rows: pd.DataFrame = calc.function(ctx)
    requested_groupings = _groupings([*bys, *extra], margins)
    if margins is not True and extra:
        requested_groupings = [(*g, *extra) for g in _groupings(list(bys), margins)]
    rows = rows[_requested(rows, out_keys, requested_groupings)].reset_index(drop=True)
    value = rows["value"].astype(float)
    se = rows["se"].astype(float)
    z = NormalDist().inv_cdf((1 + run.level) / 2)
    result = rows[out_keys].copy()
    result.insert(0, "indicator", ind.id)
    result.insert(1, "ref_period", None)
    result.insert(2, "ref_area", None)
    result["value"] = value
    result["unit"] = ind.unit
    result["se"] = se
    result["ci_lower"] = np.where(np.isfinite(se), value - z * se, np.nan)
    result["ci_upper"] = np.where(np.isfinite(se), value + z * se, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        result["cv"] = se / np.abs(value)
    result["df"] = np.nan
    result["n"] = rows["n"]
    result["obs_status"] = None
    result["conf_status"] = None
    result["source"] = None
    result["findings"] = rows["findings"].astype(str)
    return result


@dataclass(frozen=True)
class Tabulation:
    """One table of :func:`compute_many`: indicators by breakdowns, with the
    options :func:`compute` takes for them."""

    indicators: tuple[str | Indicator, ...]
    by: tuple[str, ...] = ()
    margins: bool | tuple[tuple[str, ...], ...] = True
    where: str | None = None
    params: Mapping[str, object] | None = None
    disclosure: DisclosureRules | None = None

    @classmethod
    def of(
        cls,
        indicators: str | Indicator | Iterable[str | Indicator],
        by: Sequence[str] = (),
        margins: bool | Sequence[Sequence[str]] = True,
        where: str | None = None,
        params: Mapping[str, object] | None = None,
        disclosure: DisclosureRules | None = None,
    ) -> Tabulation:
        wanted = (indicators,) if isinstance(indicators, str | Indicator) else tuple(indicators)
        marg = margins if isinstance(margins, bool) else tuple(tuple(m) for m in margins)
        return cls(wanted, tuple(by), marg, where, params, disclosure)


@dataclass
class _Prepared:
    """A tabulation checked and resolved against the catalogue."""

    inds: dict[str, Indicator]
    bys: list[_By]
    margins: bool | Sequence[Sequence[str]]
    where: Expr | None
    params: dict[str, object]
    disclosure: DisclosureRules | None


def _prepare(tab: Tabulation, catalog: Catalog, dataset: Any) -> _Prepared:
    inds = {
        (i.id if isinstance(i, Indicator) else i): (
            i if isinstance(i, Indicator) else catalog.indicator(i)
        )
        for i in tab.indicators
    }
    bys = [_By(*parse_breakdown(b, catalog)) for b in tab.by]
    for ind in inds.values():
        missing = [b.dimension for b in bys if b.dimension not in ind.breakdowns]
        if missing:
            raise ComputeError(
                f"{ind.id} cannot be broken down by {missing}; it allows "
                f"{', '.join(ind.breakdowns) or 'no breakdown'}"
            )
    _groupings(bys, tab.margins)  # checks the margins named
    params = _params(catalog, dataset, tab.params)
    where = resolve_code_sets(parse_filter(tab.where), catalog) if tab.where else None
    return _Prepared(inds, bys, tab.margins, where, params, tab.disclosure)


def _plain_table(ind: Indicator, catalog: Catalog) -> str | None:
    """The one table a plain indicator reads (None: derived or cross-table)."""
    if ind.is_derived:
        return None
    used = {catalog.table_of(t) for t in ind.terms()}
    return used.pop() if len(used) == 1 else None


def _params_key(params: Mapping[str, object]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, repr(v)) for k, v in params.items()))


def _shared_pass(
    run: _Run,
    group: Sequence[tuple[int, _Prepared]],
    table_name: str,
) -> dict[int, pd.DataFrame]:
    """The raw estimates of several tabulations of plain indicators of one
    table, sharing their parameters, from one aggregation plan (one scan)."""
    catalog = run.catalog
    frame = _with_one(run.tables[table_name])
    columns: dict[_By, Breakdown] = {}
    requests: list[Request] = []
    for k, prep in group:
        for b in prep.bys:
            if b not in columns:
                frame, columns[b] = _add_breakdown_column(frame, b, catalog)
        for ind in prep.inds.values():
            for grouping in _groupings(prep.bys, prep.margins):
                request = _request(ind, catalog, tuple(columns[b] for b in grouping), prep.where)
                requests.append(dataclasses.replace(request, label=f"{k}\x1f{ind.id}"))
    params = group[0][1].params
    result = estimate_many(
        frame,
        requests,
        _design_for(frame, run.dataset, run.design),
        level=run.level,
        ci_method=run.ci_method,
        engine=run.engine,
        params=params,
    )
    out: dict[int, pd.DataFrame] = {}
    if result.empty:
        return {k: pd.DataFrame() for k, _ in group}
    labels = result["indicator"].astype(str)
    owner = labels.str.partition("\x1f")
    for k, prep in group:
        mine = result[owner[0] == str(k)].copy()
        mine["indicator"] = owner.loc[mine.index, 2]
        names = {_output_name(b.dimension) for b in prep.bys}
        # breakdown columns of other tabulations of the pass are not this one's
        others = [
            c
            for c in mine.columns
            if c not in names and c not in _RESULT_COLUMNS and c not in _HEAD_COLUMNS
        ]
        mine = mine.drop(columns=others)
        for b in prep.bys:
            name = _output_name(b.dimension)
            if name not in mine.columns:
                mine[name] = TOTAL
        ordered = [_output_name(b.dimension) for b in prep.bys]
        head = [c for c in mine.columns if c in _HEAD_COLUMNS]
        tail = [c for c in mine.columns if c not in _HEAD_COLUMNS and c not in ordered]
        out[k] = mine[[*head, *ordered, *tail]].reset_index(drop=True)
    return out


# The columns of estimate_many's result table that are not breakdowns.
_RESULT_COLUMNS = frozenset(
    {
        "value",
        "unit",
        "se",
        "ci_lower",
        "ci_upper",
        "cv",
        "df",
        "n",
        "obs_status",
        "conf_status",
        "source",
        "findings",
        "parameters",
    }
)


def _finished(raw: pd.DataFrame, prep: _Prepared, catalog: Catalog, dataset: Any) -> pd.DataFrame:
    """The result table of one tabulation from its raw estimates."""
    dims = [b.dimension for b in prep.bys]
    for ind in prep.inds.values():
        for extra in _kept_dimensions(ind, catalog):
            if extra not in dims:
                dims.append(extra)
    table = _finish(raw, prep.inds, prep.params, dims)
    if dataset is not None and not table.empty:
        table["ref_period"] = dataset.mapping.reference_period
        table["source"] = dataset.source
    if not table.empty:
        table = table.sort_values(["indicator", *dims], kind="stable").reset_index(drop=True)
    if prep.disclosure is not None and not table.empty:
        measures = {i: ind.measure for i, ind in prep.inds.items()}
        # A breakdown by the series' ref_area lives in the ref_area column,
        # which disclosure control treats as part of each table's key.
        cells = [d for d in dims if d not in _HEAD_COLUMNS]
        table, _ = apply_disclosure(table, prep.disclosure, cells, measures=measures)
    return table


def compute_many(
    data: Any,
    tabulations: Sequence[Tabulation],
    engine: str | Engine = "pandas",
    *,
    catalog: Catalog | None = None,
    design: Design | None = None,
    level: float = 0.95,
    ci_method: str = "wald",
) -> list[pd.DataFrame]:
    """Several tabulations of one dataset, each as :func:`compute` would
    return it, with as few passes over the data as possible: the plain
    indicators of all tabulations that read the same table with the same
    parameters go into one aggregation plan, run in one engine pass.
    (Derived and cross-table indicators are computed tabulation by
    tabulation.) The profile builder uses it to read each source once."""
    tables, dataset = _tables(data)
    tables = _with_series_qualifiers(tables)
    if catalog is None:
        catalog = dataset.catalog if dataset is not None else load_catalog()
    run = _Run(tables, dataset, catalog, engine, design, level, ci_method)
    prepared = [_prepare(tab, catalog, dataset) for tab in tabulations]
    raws: dict[int, list[pd.DataFrame]] = {k: [] for k in range(len(prepared))}
    shared: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[int, _Prepared]]] = {}
    for k, prep in enumerate(prepared):
        plain: dict[str, dict[str, Indicator]] = {}
        rest: dict[str, Indicator] = {}
        for ind in prep.inds.values():
            _check_computable(ind, tables, catalog, prep.params)
            table_name = _plain_table(ind, catalog)
            if table_name is None:
                rest[ind.id] = ind
            else:
                plain.setdefault(table_name, {})[ind.id] = ind
        if rest:
            raws[k].append(_compute_raw(run, rest, prep.bys, prep.margins, prep.where,
                                        prep.params))  # fmt: skip
        for table_name, inds in plain.items():
            part = _Prepared(inds, prep.bys, prep.margins, prep.where, prep.params, None)
            shared.setdefault((table_name, _params_key(prep.params)), []).append((k, part))
    for (table_name, _), group in shared.items():
        for k, raw in _shared_pass(run, group, table_name).items():
            raws[k].append(raw)
    out: list[pd.DataFrame] = []
    for k, prep in enumerate(prepared):
        kept = [r for r in raws[k] if not r.empty]
        raw = pd.concat(kept, ignore_index=True) if kept else pd.DataFrame()
        if not raw.empty:
            # the tabulation's order of indicators, as compute() gives them
            order = {i: n for n, i in enumerate(prep.inds)}
            raw = raw.iloc[np.argsort(raw["indicator"].map(order).to_numpy(), kind="stable")]
            raw = raw.reset_index(drop=True)
        out.append(_finished(raw, prep, catalog, dataset))
    return out


def compute(
    data: Any,
    indicators: str | Indicator | Iterable[str | Indicator],
    by: Sequence[str] = (),
    margins: bool | Sequence[Sequence[str]] = True,
    where: str | None = None,
    params: Mapping[str, object] | None = None,
    engine: str | Engine = "pandas",
    *,
    catalog: Catalog | None = None,
    design: Design | None = None,
    level: float = 0.95,
    ci_method: str = "wald",
    disclosure: DisclosureRules | None = None,
) -> pd.DataFrame:
    """Compute catalogue indicators on harmonised data, as one tidy result table.

    ``data`` is a :class:`~migprofile.Dataset`, a mapping of table names
    (``persons``, ``households``, ``events``, ``series``) to DataFrames, or a
    DataFrame taken as ``persons``. ``indicators`` are ids or
    :class:`Indicator` objects. ``by`` lists breakdowns (``"sex"``,
    ``"age:five_year"``, ``"country_of_birth:subregion"``); each must be
    allowed by every indicator asked for. ``margins`` adds the total rows
    (``_T``): ``True`` for every combination (SQL's CUBE), ``False`` for none,
    or a list of the breakdown combinations wanted. ``where`` restricts every
    indicator to a domain (weights are zeroed outside it). ``params`` set the
    definitional parameters (``reporting_country``, ``migrant_basis``, ...);
    the values used are recorded in the ``parameters`` column of every row.
    ``engine`` names a registered engine (``"pandas"``, ``"duckdb"``) or is
    an engine object. ``disclosure`` applies suppression and quality flags.

    A derived indicator (``measure: derived``) is computed from the estimates
    of its input indicators by its registered calculator
    (:mod:`migprofile.compute.calculators`); a calculator that works across
    the cells of one dimension (the location quotient by occupation) adds
    that dimension to the result even when ``by`` does not name it.
    Several tables of one dataset are computed together by
    :func:`compute_many`.
    """
    tab = Tabulation.of(indicators, by, margins, where, params, disclosure)
    return compute_many(
        data,
        [tab],
        engine,
        catalog=catalog,
        design=design,
        level=level,
        ci_method=ci_method,
    )[0]


# Qualifiers of a published series that a table may leave out: a table by
# destination has no origin, a table of totals no sex, a table in persons no
# unit. Absent, they are "not given" (missing), which is what the catalogue's
# filters test with is_missing().
_SERIES_QUALIFIERS = ("origin", "sex", "unit")


def _with_series_qualifiers(tables: dict[str, Table]) -> dict[str, Table]:
    series = tables.get("series")
    if series is None or not isinstance(series, pd.DataFrame):
        # a file table is not rewritten: its qualifiers are what the file holds
        return tables
    absent = [c for c in _SERIES_QUALIFIERS if c not in series.columns]
    if not absent:
        return tables
    filled = series.assign(**{c: pd.Series(None, index=series.index, dtype=object) for c in absent})
    return {**tables, "series": filled}


def _kept_dimensions(ind: Indicator, catalog: Catalog) -> list[str]:
    """Dimensions a derived indicator's calculator adds to its rows."""
    if not ind.is_derived:
        return []
    from migprofile.compute.calculators import get_calculator

    calc = get_calculator(ind.calculator or "")
    if not calc.keeps_over:
        return []
    return [
        parse_breakdown(spec.over, catalog)[0]
        for spec in ind.inputs.values()
        if spec.over is not None
    ]
