"""Profiles: the spec (:func:`load_spec`), its checks (:func:`validate_spec`)
and the builder (:func:`build_profile`) that writes tables, the workbook,
SDMX-CSV, the HTML report and a manifest."""

from __future__ import annotations

from migprofile.profile.build import (
    BuildResult,
    ProgressEvent,
    build_profile,
    spec_problems,
    validate_spec,
)
from migprofile.profile.errors import BuildError, SpecError
from migprofile.profile.model import Gap, Profile, ProfileTable, Section, SourceSummary
from migprofile.profile.spec import ProfileSpec, load_spec

__all__ = [
    "BuildError",
    "BuildResult",
    "Gap",
    "Profile",
    "ProfileSpec",
    "ProfileTable",
    "ProgressEvent",
    "Section",
    "SourceSummary",
    "SpecError",
    "build_profile",
    "load_spec",
    "spec_problems",
    "validate_spec",
]
