"""Build a whole profile from its spec: every table, every output.

:func:`build_profile` reads each source once, computes all the tables of a
source together (:func:`~migprofile.compute.indicators.compute_many`: one
aggregation plan, one pass, per table of the source and set of parameters),
applies the spec's disclosure rules, and writes the outputs the spec asks for:

- ``tables/<id>.csv`` and ``tables/<id>.parquet``, one per table, and
  ``tables/data_gaps.csv``;
- ``profile.<lang>.xlsx``: the workbook, one per language;
- ``profile.sdmx.csv``: the SDMX-CSV dataflow (codes, language-free);
- ``report.<lang>.html``: the self-contained report, one per language;
- ``manifest.json``: the package version, the spec's hash, every input file's
  checksum and every output's checksum.

The same inputs give byte-identical outputs: nothing records the time, and
every ordering is fixed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from migprofile.catalog.filters import UnknownColumnError
from migprofile.catalog.loader import Catalog, load_catalog
from migprofile.catalog.models import Indicator
from migprofile.compute.indicators import (
    ComputeError,
    ParameterError,
    Tabulation,
    compute_many,
    parse_breakdown,
)
from migprofile.errors import MigprofileError
from migprofile.profile.errors import BuildError, SpecError
from migprofile.profile.model import Gap, Profile, ProfileTable, Section, SourceSummary
from migprofile.profile.spec import IndicatorItem, ProfileSpec, load_spec
from migprofile.sources.mapping import SourceMapping, load_mapping

__all__ = [
    "BuildResult",
    "ProgressEvent",
    "build_profile",
    "spec_problems",
    "validate_spec",
]


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a build, for progress bars and logs."""

    step: int
    total: int
    #: ``"source"``, ``"table"``, ``"output"``.
    stage: Literal["source", "table", "output"]
    message: str


@dataclass(frozen=True)
class BuildResult:
    """What a build produced."""

    out_dir: Path
    #: Every output file, relative to ``out_dir``, sorted.
    paths: tuple[Path, ...]
    #: The result table of every profile table, by table id.
    tables: dict[str, pd.DataFrame]
    gaps: tuple[Gap, ...]
    #: Findings worth a reader's attention (sources' error findings, tables
    #: with withheld cells), as plain sentences.
    findings: tuple[str, ...]
    #: The computed profile in each language built.
    profiles: dict[str, Profile] = field(repr=False, default_factory=dict)


# ----------------------------------------------------------------------------
# Validation (no data read)


def _catalog_for(spec: ProfileSpec) -> Catalog:
    folders = [spec.resolve(c) for c in spec.catalog]
    return load_catalog(*folders) if folders else load_catalog()


def spec_problems(spec: ProfileSpec) -> list[tuple[str, str, str, str]]:
    """Every problem of a structurally valid spec against the catalogue and
    its mapping files: (where, kind, value, message). Reads no data."""
    problems: list[tuple[str, str, str, str]] = []
    try:
        catalog = _catalog_for(spec)
    except MigprofileError as exc:
        return [("catalog", "catalog", ", ".join(spec.catalog), str(exc))]
    mappings: dict[str, SourceMapping] = {}
    for key, ref in spec.sources.items():
        path = spec.resolve(ref.mapping)
        try:
            mappings[key], _ = load_mapping(path)
        except MigprofileError as exc:
            first = str(exc).splitlines()[0]
            problems.append((f"sources.{key}.mapping", "mapping", str(ref.mapping), first))
        if ref.engine is not None:
            from migprofile.compute.engine import ENGINES

            if ref.engine not in {*ENGINES, "auto"}:
                problems.append(
                    (
                        f"sources.{key}.engine",
                        "engine",
                        ref.engine,
                        f"unknown engine; one of {', '.join(sorted({*ENGINES, 'auto'}))}",
                    )
                )
    for name in spec.parameters:
        if name not in catalog.parameters:
            problems.append(
                (f"parameters.{name}", "parameter", name, "no such parameter in the catalogue")
            )
    for section in spec.sections:
        for n, item in enumerate(section.indicators):
            where = f"sections.{section.id}.indicators[{n}] ({item.id})"
            problems.extend(_item_problems(item, where, catalog, spec, mappings))
    return problems


def _item_problems(
    item: IndicatorItem,
    where: str,
    catalog: Catalog,
    spec: ProfileSpec,
    mappings: dict[str, SourceMapping],
) -> list[tuple[str, str, str, str]]:
    out: list[tuple[str, str, str, str]] = []
    if item.id not in catalog.indicators:
        close = [i for i in catalog.indicators if i.split("_")[0] == item.id.split("_")[0]][:5]
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        return [(where, "indicator", item.id, f"no indicator {item.id} in the catalogue{hint}")]
    ind = catalog.indicator(item.id)
    by = item.by if item.by is not None else ind.default_breakdowns
    dims: list[str] = []
    for b in by:
        try:
            dim, level = parse_breakdown(b, catalog)
        except MigprofileError as exc:
            out.append((where, "breakdown", b, str(exc)))
            continue
        dims.append(dim)
        dimension = catalog.dimensions[dim]
        if level is not None and dimension.kind == "numeric" and dimension.codelist:
            from migprofile.catalog.age import partition_problems

            codelist = catalog.codelist(dimension.codelist)
            groups = codelist.group_codes(level)
            overlaps = [p for p in partition_problems(list(groups)) if "overlap" in p]
            if overlaps:
                out.append(
                    (
                        where,
                        "breakdown",
                        b,
                        f"the age groups of {level!r} overlap ({overlaps[0]}); "
                        "use a level or set that partitions ages, such as five_year or broad_3",
                    )
                )
        if dim not in ind.breakdowns:
            allowed = ", ".join(ind.breakdowns) or "none"
            out.append((where, "breakdown", b, f"{ind.id} allows breakdowns {allowed}"))
    if item.source is not None and item.source not in spec.sources:
        out.append(
            (where, "source", item.source, f"no source {item.source!r} in the spec's sources")
        )
    if item.source is not None and item.source in mappings:
        kind = mappings[item.source].kind
        if kind not in ind.source_kinds:
            out.append(
                (
                    where,
                    "source",
                    item.source,
                    f"{ind.id} is computed from {', '.join(ind.source_kinds)} sources, "
                    f"not from a {kind}",
                )
            )
    if item.chart == "pyramid" and not {"age", "sex"} <= set(dims):
        out.append((where, "chart", "pyramid", "a pyramid needs breakdowns by age and sex"))
    if item.chart == "bar" and not dims:
        out.append((where, "chart", "bar", "a bar chart needs at least one breakdown"))
    if item.chart == "line" and not item.periods:
        out.append((where, "chart", "line", "a trend chart needs periods: [...]"))
    if item.periods and "ref_year" not in ind.parameters:
        out.append(
            (
                where,
                "periods",
                str(list(item.periods)),
                f"{ind.id} has no ref_year parameter; periods apply to series indicators",
            )
        )
    if item.where is not None:
        from migprofile.catalog.filters import parse_filter

        try:
            parse_filter(item.where)
        except MigprofileError as exc:
            out.append((where, "where", item.where, str(exc).splitlines()[0]))
    return out


def validate_spec(spec: ProfileSpec | str | Path) -> ProfileSpec:
    """Check a spec completely without computing: its structure, then every
    indicator, breakdown, source, chart and filter against the catalogue and
    the mapping files. Raises :class:`SpecError` listing every problem."""
    loaded = spec if isinstance(spec, ProfileSpec) else load_spec(spec)
    problems = spec_problems(loaded)
    if problems:
        raise SpecError(loaded.path, problems)
    return loaded


# ----------------------------------------------------------------------------
# Computing


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _tables_needed(ind: Indicator, catalog: Catalog) -> set[str]:
    """The harmonised tables an indicator reads; a derived indicator reads
    those of its inputs (every candidate input)."""
    if ind.is_derived:
        return {
            table
            for spec in ind.inputs.values()
            for target in spec.candidates()
            for table in _tables_needed(catalog.indicator(target), catalog)
        }
    return {catalog.table_of(t) for t in ind.terms()}


def _pick_source(
    item: IndicatorItem,
    ind: Indicator,
    datasets: dict[str, Any],
    catalog: Catalog,
) -> tuple[str | None, tuple[str, dict[str, object]]]:
    """The source for an item, or None and the reason none fits (a
    translation key and its values)."""
    needed = _tables_needed(ind, catalog)
    if item.source is not None:
        missing = needed - set(datasets[item.source].tables)
        if missing:
            values: dict[str, object] = {
                "source": item.source,
                "tables": ", ".join(sorted(missing)),
            }
            return None, ("gap.reason.missing_table", values)
        return item.source, ("", {})
    candidates = [k for k, ds in datasets.items() if ds.mapping.kind in ind.source_kinds]
    for key in candidates:
        if needed <= set(datasets[key].tables):
            return key, ("", {})
    if candidates:
        values = {"source": ", ".join(candidates), "tables": ", ".join(sorted(needed))}
        return None, ("gap.reason.missing_table", values)
    return None, ("gap.reason.no_source", {"kinds": ", ".join(ind.source_kinds)})


@dataclass
class _Job:
    section: str
    order: int
    item: IndicatorItem
    indicator: Indicator
    source: str
    by: tuple[str, ...]


def _run_source(
    jobs: list[_Job],
    dataset: Any,
    spec: ProfileSpec,
    engine: str | None,
    catalog: Catalog,
) -> dict[int, pd.DataFrame | tuple[str, dict[str, object]]]:
    """Compute every job of one source together (:func:`compute_many`: one
    aggregation plan per table and parameter set); returns a table or a gap's
    reason (translation key and values) per job, by position in ``jobs``."""
    ref = spec.sources[jobs[0].source]
    chosen = engine or ref.engine or ("duckdb" if ref.scan else "pandas")
    # Published aggregates (the series table) are public already: their n
    # counts table rows, not respondents, so small-count suppression does not
    # apply to them; confidentiality flags they carry pass through.
    rules = spec.disclosure
    if set(dataset.tables) == {"series"}:
        rules = rules.model_copy(update={"min_n": None, "secondary": False})
    tabs: list[Tabulation] = []
    owners: list[tuple[int, int | None]] = []
    for n, job in enumerate(jobs):
        item = job.item
        for period in item.periods or (None,):
            params: dict[str, object] = {**spec.parameters, **item.params}
            if period is not None:
                params["ref_year"] = period
            margins = (
                item.margins if isinstance(item.margins, bool) else [list(m) for m in item.margins]
            )
            tabs.append(Tabulation.of(job.indicator, job.by, margins, item.where, params, rules))
            owners.append((n, period))
    try:
        tables = compute_many(dataset, tabs, chosen, catalog=catalog)
    except ParameterError as exc:
        # a fault of the spec, not a lack of data: the build stops, naming the
        # item (computed alone, the culprit raises again)
        if len(jobs) > 1:
            for job in jobs:
                _run_source([job], dataset, spec, engine, catalog)
        job = jobs[0]
        raise BuildError(f"{spec.path}: {job.section}/{job.indicator.id}: {exc}") from exc
    except (ComputeError, UnknownColumnError) as exc:
        if len(jobs) > 1:  # one indicator's problem must not sink the others
            out: dict[int, pd.DataFrame | tuple[str, dict[str, object]]] = {}
            for n, job in enumerate(jobs):
                out[n] = _run_source([job], dataset, spec, engine, catalog)[0]
            return out
        if isinstance(exc, UnknownColumnError):
            values: dict[str, object] = {"source": jobs[0].source, "columns": exc.column}
            return {0: ("gap.reason.missing_columns", values)}
        return {0: ("gap.reason.compute_failed", {"error": str(exc)})}
    frames: dict[int, list[pd.DataFrame]] = {n: [] for n in range(len(jobs))}
    for (n, period), table in zip(owners, tables, strict=True):
        if period is not None and not table.empty:
            table["ref_period"] = str(period)
        if not table.empty:
            frames[n].append(table)
    result: dict[int, pd.DataFrame | tuple[str, dict[str, object]]] = {}
    for n, job in enumerate(jobs):
        part = pd.concat(frames[n], ignore_index=True) if frames[n] else pd.DataFrame()
        published = part["conf_status"].astype(str) == "F" if not part.empty else None
        if part.empty or (
            published is not None
            and part.loc[published, "value"].isna().all()
            and bool(published.all())
        ):
            # No record in the domain, or only empty values: nothing to show.
            result[n] = ("gap.reason.no_records", {"source": job.source})
        else:
            result[n] = part
    return result


Progress = Callable[[ProgressEvent], None]


def build_profile(
    spec: ProfileSpec | str | Path,
    out: str | Path,
    *,
    languages: Sequence[str] | None = None,
    engine: str | None = None,
    progress: Progress | None = None,
) -> BuildResult:
    """Build the profile a spec describes into the folder ``out``.

    ``languages`` restricts the languages built (default: the spec's);
    ``engine`` overrides every source's engine. ``progress`` is called at
    every step. Raises :class:`SpecError` when the spec is invalid (nothing
    is computed then) and :class:`BuildError` naming the spec, section and
    indicator when a computation fails for a reason other than missing data.
    """
    from migprofile import __version__
    from migprofile.profile.i18n import load_labels
    from migprofile.sources.read import read_source
    from migprofile.sources.scan import scan_source

    spec = validate_spec(spec)
    langs = tuple(languages) if languages else spec.languages
    unknown = [lang for lang in langs if lang not in spec.languages]
    if unknown:
        raise SpecError(
            spec.path,
            [("languages", "language", ", ".join(unknown), f"the spec offers {spec.languages}")],
        )
    catalog = _catalog_for(spec)
    extra = [spec.resolve(t) for t in spec.translations]
    labels = {lang: load_labels(lang, catalog, extra) for lang in langs}
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)

    # Every source is read once, in the spec's order.
    items = [(s, n, it) for s in spec.sections for n, it in enumerate(s.indicators)]
    total_steps = len(spec.sources) + len(items) + 1
    step = 0

    def tell(stage: Literal["source", "table", "output"], message: str) -> None:
        nonlocal step
        step += 1
        if progress is not None:
            progress(ProgressEvent(step, total_steps, stage, message))

    datasets: dict[str, Any] = {}
    summaries: dict[str, SourceSummary] = {}
    findings: list[str] = []
    for key, ref in spec.sources.items():
        path = spec.resolve(ref.mapping)
        try:
            ds = scan_source(path) if ref.scan else read_source(path)
        except MigprofileError as exc:
            raise BuildError(f"{spec.path}: source {key!r} ({ref.mapping}): {exc}") from exc
        datasets[key] = ds
        files = tuple(
            sorted(
                (_relative(path.parent / f, spec.base_dir), checksum.removeprefix("sha256:"))
                for f, checksum in ds.provenance.items()
            )
        )
        summaries[key] = SourceSummary(
            id=key,
            name=ds.mapping.name,
            kind=ds.mapping.kind,
            reference_period=ds.mapping.reference_period,
            provider=ds.mapping.provider,
            licence=ds.mapping.licence,
            files=files,
            report=ds.report,
        )
        for finding in ds.report.findings:
            if getattr(finding, "severity", "") == "error":
                findings.append(f"source {key}: {finding}")
        records = sum(t.rows_kept for t in ds.report.tables)
        tell("source", f"read {key} ({ds.mapping.kind}, {records:,} records)")

    jobs: list[_Job] = []
    # A gap's reason is a translation key and its values, worded per language.
    gaps_by_item: dict[tuple[str, int], tuple[str, str, dict[str, object]]] = {}
    for section, n, item in items:
        ind = catalog.indicator(item.id)
        source, (key, values) = _pick_source(item, ind, datasets, catalog)
        if source is None:
            gaps_by_item[(section.id, n)] = (ind.id, key, values)
            tell("table", f"{section.id}: {ind.id}: data gap")
            continue
        by = tuple(item.by if item.by is not None else ind.default_breakdowns)
        jobs.append(_Job(section.id, n, item, ind, source, by))

    groups: dict[str, list[_Job]] = {}
    for job in jobs:
        groups.setdefault(job.source, []).append(job)
    computed: dict[tuple[str, int], pd.DataFrame] = {}
    for group in groups.values():
        try:
            results = _run_source(group, datasets[group[0].source], spec, engine, catalog)
        except BuildError:
            raise
        except MigprofileError as exc:
            names = ", ".join(f"{j.section}/{j.indicator.id}" for j in group)
            raise BuildError(f"{spec.path}: {names}: {exc}") from exc
        for n, job in enumerate(group):
            res = results[n]
            if isinstance(res, tuple):
                gaps_by_item[(job.section, job.order)] = (job.indicator.id, *res)
                tell("table", f"{job.section}: {job.indicator.id}: data gap")
            else:
                computed[(job.section, job.order)] = res
                tell("table", f"{job.section}: {job.indicator.id} ({len(res)} rows)")

    job_of = {(j.section, j.order): j for j in jobs}
    # Table ids (file names): section, number among the section's tables,
    # indicator and breakdowns; the same in every language.
    table_ids: dict[tuple[str, int], str] = {}
    for section in spec.sections:
        number = 0
        for n in range(len(section.indicators)):
            if (section.id, n) in gaps_by_item:
                continue
            number += 1
            tid = _table_id(section.id, number, job_of[(section.id, n)])
            if tid in table_ids.values():
                tid = f"{tid}-{n + 1}"
            table_ids[(section.id, n)] = tid
    profiles: dict[str, Profile] = {}
    for lang in langs:
        lab = labels[lang]
        sections: list[Section] = []
        all_gaps: list[Gap] = []
        for section in spec.sections:
            tables: list[ProfileTable] = []
            gaps: list[Gap] = []
            for n, item in enumerate(section.indicators):
                if (section.id, n) in gaps_by_item:
                    ind_id, key, values = gaps_by_item[(section.id, n)]
                    gaps.append(Gap(section.id, ind_id, str(lab.text(key, **values))))
                    continue
                job = job_of[(section.id, n)]
                data = computed[(section.id, n)]
                dims = tuple(
                    d if d in data.columns or f"_by_{d}" not in data.columns else f"_by_{d}"
                    for d in (parse_breakdown(b, catalog)[0] for b in job.by)
                )
                tables.append(
                    ProfileTable(
                        id=table_ids[(section.id, n)],
                        section=section.id,
                        indicator=job.indicator,
                        breakdowns=dims,
                        data=data,
                        source=job.source,
                        chart=item.chart,
                        title=_text(item.title, lang) or None,
                        sdmx=item.sdmx,
                    )
                )
            sections.append(
                Section(
                    id=section.id,
                    title=_text(section.title, lang) or lab.section_title(section.id),
                    intro=_text(section.intro, lang) or lab.section_intro(section.id),
                    tables=tuple(tables),
                    gaps=tuple(gaps),
                )
            )
            all_gaps.extend(gaps)
        profiles[lang] = Profile(
            spec=spec,
            catalog=catalog,
            labels=lab,
            country=spec.country,
            title=_text(spec.title, lang) or spec.title.texts["en"],
            reference_period=spec.reference_period,
            language=lang,
            sections=tuple(sections),
            sources=summaries,
            gaps=tuple(all_gaps),
            version=__version__,
            notes=(_text(spec.notes, lang),) if spec.notes is not None else (),
        )

    first = profiles[langs[0]]
    for t in first.tables:
        conf = t.data["conf_status"] if "conf_status" in t.data else pd.Series(dtype=object)
        withheld = int(conf.isin(["A", "C", "D", "N"]).sum())
        if withheld:
            findings.append(f"table {t.id}: {withheld} cell(s) withheld by disclosure control")
    try:
        written = _write_outputs(spec, profiles, langs, out_dir, datasets)
    except MigprofileError as exc:
        raise BuildError(f"{spec.path}: writing the outputs: {exc}") from exc
    tell("output", f"wrote {len(written)} files")
    return BuildResult(
        out_dir=out_dir,
        paths=tuple(sorted(written)),
        tables={t.id: t.data for t in first.tables},
        gaps=first.gaps,
        findings=tuple(findings),
        profiles=profiles,
    )


def _relative(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` (``../x`` when outside it), in POSIX form,
    so the manifest does not depend on where the checkout lies."""
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


def _text(text: Any, lang: str) -> str:
    if text is None:
        return ""
    texts: dict[str, str] = text.texts
    return texts.get(lang, "")


def _table_id(section: str, number: int, job: _Job) -> str:
    parts = [section, f"{number:02d}", job.indicator.id]
    parts.extend(b.replace(":", "-") for b in job.by)
    return _slug("-".join(parts))[:80]


# ----------------------------------------------------------------------------
# Writing


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n", float_format="%.10g")
    return buffer.getvalue().encode("utf-8")


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    table = pa.Table.from_pandas(frame, preserve_index=False)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", write_statistics=False)
    return buffer.getvalue()


def _write(out_dir: Path, relative: str, data: bytes, written: list[Path]) -> None:
    path = out_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    written.append(Path(relative))


def _write_outputs(
    spec: ProfileSpec,
    profiles: dict[str, Profile],
    langs: Sequence[str],
    out_dir: Path,
    datasets: dict[str, Any],
) -> list[Path]:
    written: list[Path] = []
    first = profiles[langs[0]]
    outputs = set(spec.outputs)
    for t in first.tables:
        if "csv" in outputs:
            _write(out_dir, f"tables/{t.id}.csv", _csv_bytes(t.data), written)
        if "parquet" in outputs:
            _write(out_dir, f"tables/{t.id}.parquet", _parquet_bytes(t.data), written)
    if "csv" in outputs:
        gaps = pd.DataFrame(
            [(g.section, g.indicator, g.reason) for g in first.gaps],
            columns=["section", "indicator", "reason"],
        )
        _write(out_dir, "tables/data_gaps.csv", _csv_bytes(gaps), written)
    if "sdmx" in outputs:
        from migprofile.profile.sdmx import write_sdmx_csv

        write_sdmx_csv(first, out_dir / "profile.sdmx.csv")
        written.append(Path("profile.sdmx.csv"))
    for lang in langs:
        profile = profiles[lang]
        if "xlsx" in outputs:
            from migprofile.profile.xlsx import write_workbook

            write_workbook(profile, out_dir / f"profile.{lang}.xlsx")
            written.append(Path(f"profile.{lang}.xlsx"))
        if "html" in outputs:
            from migprofile.profile.html import render_html

            _write(out_dir, f"report.{lang}.html", render_html(profile).encode("utf-8"), written)
    manifest = _manifest(spec, first, datasets, out_dir, written)
    _write(out_dir, "manifest.json", manifest, written)
    return written


def _manifest(
    spec: ProfileSpec,
    profile: Profile,
    datasets: dict[str, Any],
    out_dir: Path,
    written: Iterable[Path],
) -> bytes:
    inputs: list[dict[str, str]] = []
    if spec.path is not None:
        inputs.append({"role": "spec", "path": spec.path.name, "sha256": _sha256(spec.path)})
    for key, ref in sorted(spec.sources.items()):
        mapping = spec.resolve(ref.mapping)
        inputs.append(
            {
                "role": f"mapping:{key}",
                "path": _relative(mapping, spec.base_dir),
                "sha256": _sha256(mapping),
            }
        )
        for path, checksum in profile.sources[key].files:
            inputs.append({"role": f"data:{key}", "path": path, "sha256": checksum})
    spec_json = spec.model_dump_json(exclude={"base_dir", "path"})
    body = {
        "migprofile_version": profile.version,
        "profile": spec.id,
        "country": spec.country,
        "reference_period": spec.reference_period,
        "spec_sha256": hashlib.sha256(spec_json.encode("utf-8")).hexdigest(),
        "inputs": inputs,
        "outputs": [
            {
                "path": p.as_posix(),
                "sha256": _sha256(out_dir / p),
                "bytes": (out_dir / p).stat().st_size,
            }
            for p in sorted(written, key=lambda x: x.as_posix())
        ],
        "tables": [
            {
                "id": t.id,
                "section": t.section,
                "indicator": t.indicator.id,
                "breakdowns": list(t.breakdowns),
                "source": t.source,
                "rows": len(t.data),
            }
            for t in profile.tables
        ],
        "gaps": [{"section": g.section, "indicator": g.indicator} for g in profile.gaps],
    }
    return (json.dumps(body, indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode("utf-8")
