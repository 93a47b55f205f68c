"""The catalogue: typed definitions read from YAML and checked as a whole."""

from __future__ import annotations

from migprofile.catalog.loader import (
    Catalog,
    Origin,
    UnknownDefinitionError,
    catalog_problems,
    load_catalog,
)
from migprofile.catalog.models import (
    Code,
    Codelist,
    Crosswalk,
    CrosswalkEntry,
    Dimension,
    Indicator,
    Level,
    LocalisedText,
    Parameter,
    Population,
    Reference,
    Term,
)

__all__ = [
    "Catalog",
    "Code",
    "Codelist",
    "Crosswalk",
    "CrosswalkEntry",
    "Dimension",
    "Indicator",
    "Level",
    "LocalisedText",
    "Origin",
    "Parameter",
    "Population",
    "Reference",
    "Term",
    "UnknownDefinitionError",
    "catalog_problems",
    "load_catalog",
]
