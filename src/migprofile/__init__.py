"""migprofile: Extended Migration Profiles, built reproducibly.

The catalogue (indicators, populations, codelists, dimensions, parameters,
crosswalks) is data, read and checked by :func:`load_catalog`. Population
filters are parsed by :func:`parse_filter` into an immutable expression tree.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from migprofile.catalog import (
    Catalog,
    Code,
    Codelist,
    Crosswalk,
    Dimension,
    Indicator,
    LocalisedText,
    Parameter,
    Population,
    catalog_problems,
    load_catalog,
)
from migprofile.catalog.filters import Expr, parse_filter
from migprofile.compute import Design, estimate
from migprofile.compute.indicators import ComputeError, compute
from migprofile.errors import (
    CatalogError,
    FilterSyntaxError,
    MigprofileError,
    Problem,
    UnitError,
    UnknownCodeError,
)
from migprofile.profile import (
    BuildError,
    BuildResult,
    ProfileSpec,
    SpecError,
    build_profile,
    load_spec,
    validate_spec,
)
from migprofile.sources import (
    Dataset,
    ScannedDataset,
    SourceError,
    iter_source,
    read_source,
    scan_source,
)

try:
    __version__ = version("migprofile")
except PackageNotFoundError:  # a source checkout that is not installed
    __version__ = "0+unknown"

__all__ = [
    "BuildError",
    "BuildResult",
    "Catalog",
    "CatalogError",
    "Code",
    "Codelist",
    "ComputeError",
    "Crosswalk",
    "Dataset",
    "Design",
    "Dimension",
    "Expr",
    "FilterSyntaxError",
    "Indicator",
    "LocalisedText",
    "MigprofileError",
    "Parameter",
    "Population",
    "Problem",
    "ProfileSpec",
    "ScannedDataset",
    "SourceError",
    "SpecError",
    "UnitError",
    "UnknownCodeError",
    "__version__",
    "build_profile",
    "catalog_problems",
    "compute",
    "estimate",
    "iter_source",
    "load_catalog",
    "load_spec",
    "parse_filter",
    "read_source",
    "scan_source",
    "validate_spec",
]
