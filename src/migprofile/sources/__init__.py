"""Sources: readers, source mappings and harmonised datasets.

``read_source(mapping)`` reads a census, survey, register or published table
through its mapping into a harmonised :class:`Dataset` whose reconciliation
report accounts for every record; ``scan_source(mapping)`` does the same
inside DuckDB, writing the tables as Parquet files (:class:`ScannedDataset`).
"""

from __future__ import annotations

from migprofile.sources.files import FileSpec, FixedWidthColumn
from migprofile.sources.mapping import (
    ColumnMap,
    DesignSpec,
    Exclusion,
    MappingError,
    SourceMapping,
    TableMapping,
    Unpivot,
    load_mapping,
    mapping_from_dict,
)
from migprofile.sources.read import Dataset, SourceError, iter_source, read_source
from migprofile.sources.report import (
    ColumnReport,
    FileReport,
    Finding,
    ReconciliationReport,
    Rejection,
    TableReport,
    ValueCount,
)
from migprofile.sources.scan import ScannedDataset, ScanUnsupportedError, scan_source

__all__ = [
    "ColumnMap",
    "ColumnReport",
    "Dataset",
    "DesignSpec",
    "Exclusion",
    "FileReport",
    "FileSpec",
    "Finding",
    "FixedWidthColumn",
    "MappingError",
    "ReconciliationReport",
    "Rejection",
    "ScanUnsupportedError",
    "ScannedDataset",
    "SourceError",
    "SourceMapping",
    "TableMapping",
    "TableReport",
    "Unpivot",
    "ValueCount",
    "iter_source",
    "load_mapping",
    "mapping_from_dict",
    "read_source",
    "scan_source",
]
