"""Computation: the sample design, the aggregation plan, engines, estimators
and ``estimate()`` (see ``docs/estimation.md``)."""

from migprofile.compute.design import (
    Design,
    DesignColumnError,
    DesignError,
    LonelyPSUError,
)
from migprofile.compute.engine import (
    ENGINES,
    CellSums,
    Engine,
    PandasEngine,
    StageTable,
    Sums,
    UnmappedCodeError,
    get_engine,
)
from migprofile.compute.engine_duckdb import DuckDBEngine
from migprofile.compute.estimate import RESULT_COLUMNS, estimate, estimate_many, result_table
from migprofile.compute.estimators import Estimates, estimate_item
from migprofile.compute.plan import (
    Breakdown,
    EstimateError,
    Grouping,
    Measure,
    Plan,
    PlanItem,
    Request,
    RowRequest,
    make_plan,
)

# The out-of-core engine: duckdb is imported when the engine first runs
# (extra "duckdb"), so registering it costs nothing.
ENGINES["duckdb"] = DuckDBEngine

__all__ = [
    "ENGINES",
    "RESULT_COLUMNS",
    "Breakdown",
    "CellSums",
    "Design",
    "DesignColumnError",
    "DesignError",
    "DuckDBEngine",
    "Engine",
    "EstimateError",
    "Estimates",
    "Grouping",
    "LonelyPSUError",
    "Measure",
    "PandasEngine",
    "Plan",
    "PlanItem",
    "Request",
    "RowRequest",
    "StageTable",
    "Sums",
    "UnmappedCodeError",
    "estimate",
    "estimate_item",
    "estimate_many",
    "get_engine",
    "make_plan",
    "result_table",
]
