"""Computation: the sample design, the aggregation plan, engines, estimators
and ``estimate()`` (see ``docs/estimation.md``)."""

from typing import TYPE_CHECKING, Any

from migprofile.compute.design import (
    Design,
    DesignColumnError,
    DesignError,
    LonelyPSUError,
)
from migprofile.compute.engine import (
    AUTO_SETTINGS,
    ENGINES,
    AutoSettings,
    CellSums,
    Engine,
    PandasEngine,
    ProgressCallback,
    StageTable,
    Sums,
    UnmappedCodeError,
    auto_engine_name,
    get_engine,
    report_progress,
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

if TYPE_CHECKING:  # pragma: no cover
    from migprofile.compute.engine_dask import DaskEngine

# The out-of-core engine: duckdb is imported when the engine first runs
# (extra "duckdb"), so registering it costs nothing.
ENGINES["duckdb"] = DuckDBEngine


def _dask_engine() -> Engine:
    """The distributed engine (extra "dask"): its module imports dask only
    when the engine runs, and is itself imported only when asked for."""
    from migprofile.compute.engine_dask import DaskEngine

    return DaskEngine()


ENGINES["dask"] = _dask_engine


def __getattr__(name: str) -> Any:
    if name == "DaskEngine":
        from migprofile.compute.engine_dask import DaskEngine

        return DaskEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "AUTO_SETTINGS",
    "ENGINES",
    "RESULT_COLUMNS",
    "AutoSettings",
    "Breakdown",
    "CellSums",
    "DaskEngine",
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
    "ProgressCallback",
    "Request",
    "RowRequest",
    "StageTable",
    "Sums",
    "UnmappedCodeError",
    "auto_engine_name",
    "estimate",
    "estimate_item",
    "estimate_many",
    "get_engine",
    "make_plan",
    "report_progress",
    "result_table",
]
