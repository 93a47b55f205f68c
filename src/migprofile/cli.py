"""The ``migprofile`` command line; each verb mirrors a function of the Python API.

``migprofile catalog list``      → :meth:`Catalog.select`
``migprofile catalog show ID``   → :meth:`Catalog.indicator`
``migprofile catalog codelist``  → :meth:`Catalog.codelist`
``migprofile catalog validate``  → :func:`migprofile.catalog_problems`
``migprofile catalog docs OUT``  → :func:`migprofile.docs.write_reference`
``migprofile inspect MAPPING``   → :func:`migprofile.read_source` (its report)
``migprofile compute MAPPING``   → :func:`migprofile.compute`
``migprofile validate SPEC``     → :func:`migprofile.validate_spec`
``migprofile build SPEC``        → :func:`migprofile.build_profile`
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import click

from migprofile import __version__
from migprofile.catalog.loader import Catalog, catalog_problems, load_catalog
from migprofile.errors import CatalogError, MigprofileError

__all__ = ["main"]

_dirs_option = click.option(
    "--dir",
    "dirs",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A catalogue folder of your own, added to (and overriding) the bundled one. Repeatable.",
)


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def _load(dirs: Sequence[Path]) -> Catalog:
    try:
        return load_catalog(*dirs)
    except CatalogError as exc:
        _fail(str(exc))


def _parse_params(items: Sequence[str]) -> dict[str, object]:
    """``--param NAME=VALUE`` options; whole numbers become integers (ref_year=2024)."""
    values: dict[str, object] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            _fail(f"--param takes NAME=VALUE, not {item!r}", code=2)
        values[name] = int(value) if value.lstrip("-").isdigit() else value
    return values


def _one_line(text: str) -> str:
    """User text on one terminal line, without control characters."""
    return "".join(ch if ch.isprintable() else " " for ch in " ".join(text.split()))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="migprofile")
def cli() -> None:
    """Build Extended Migration Profiles from censuses, surveys and registers."""


@cli.group()
def catalog() -> None:
    """Browse and check the indicator catalogue."""


@catalog.command("list")
@click.option("--domain", help="Only indicators of this domain (stocks, emigration, ...).")
@click.option("--sector", help="Only indicators informing this policy sector.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--lang", default="en", show_default=True, help="Language of the names.")
@_dirs_option
def list_(
    domain: str | None, sector: str | None, fmt: str, lang: str, dirs: tuple[Path, ...]
) -> None:
    """List indicators: id, domain, measure, unit and name."""
    cat = _load(dirs)
    selected = cat.select(domain=domain, sector=sector)
    if domain is not None and domain not in cat.domains():
        _fail(f"no domain {domain!r}; domains: {', '.join(cat.domains())}")
    if fmt == "json":
        rows = [
            {
                "id": i.id,
                "domain": i.domain,
                "measure": i.measure,
                "unit": i.unit,
                "name": i.name.get(lang),
                "sectors": list(i.sectors),
            }
            for i in selected
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    width = max((len(i.id) for i in selected), default=2)
    for ind in selected:
        click.echo(
            f"{ind.id:<{width}}  {ind.domain:<11}  {ind.measure:<6}  {ind.unit:<14}  "
            f"{_one_line(ind.name.get(lang))}"
        )
    click.echo(f"{len(selected)} indicator(s)", err=True)


@catalog.command("show")
@click.argument("indicator_id")
@click.option("--lang", default="en", show_default=True)
@_dirs_option
def show(indicator_id: str, lang: str, dirs: tuple[Path, ...]) -> None:
    """Show one indicator: definition, formula, unit, breakdowns, standards."""
    from migprofile.docs import formula

    cat = _load(dirs)
    try:
        ind = cat.indicator(indicator_id)
    except MigprofileError as exc:
        _fail(str(exc))
    origin = cat.origin("indicators", ind.id)
    out = [
        f"{ind.id}: {_one_line(ind.name.get(lang))}",
        f"  domain      {ind.domain}",
        f"  measure     {ind.measure}",
        f"  unit        {ind.unit}" + ("" if ind.multiplier == 1 else f" (× {ind.multiplier:g})"),
        f"  formula     {formula(cat, ind)}",
        f"  breakdowns  {', '.join(ind.breakdowns) or 'none'}"
        + (f" (default: {', '.join(ind.default_breakdowns)})" if ind.default_breakdowns else ""),
        f"  parameters  {', '.join(ind.parameters) or 'none'}",
        f"  sources     {', '.join(ind.source_kinds)}",
        f"  sectors     {', '.join(ind.sectors) or 'none'}",
    ]
    if ind.sdg:
        out.append(f"  SDG         {', '.join(ind.sdg)}")
    if ind.mics:
        out.append(f"  MICS        {', '.join(ind.mics)}")
    out.append("  standards   " + ("none (see comparability)" if ind.standard == "none" else ""))
    for ref in ind.references:
        bits = [ref.short or "", ref.document, str(ref.year or ""), ref.section or ""]
        out.append("    - " + _one_line(", ".join(b for b in bits if b)))
    out += ["", "definition:", "  " + _one_line(ind.definition.get(lang))]
    if ind.comparability is not None:
        out += ["", "comparability:", "  " + _one_line(ind.comparability.get(lang))]
    out += ["", f"defined in {origin.file}" + (f":{origin.line}" if origin.line else "")]
    click.echo("\n".join(out))


@catalog.command("codelist")
@click.argument("codelist_id")
@click.option("--level", help="Only the codes at this level of the hierarchy.")
@click.option("--lang", default="en", show_default=True)
@_dirs_option
def codelist_(codelist_id: str, level: str | None, lang: str, dirs: tuple[Path, ...]) -> None:
    """List the codes of a codelist with their labels and parents."""
    cat = _load(dirs)
    try:
        cl = cat.codelist(codelist_id)
        codes = cl.at_level(level) if level else cl.ids
    except (MigprofileError, KeyError) as exc:
        _fail(str(exc).strip('"'))
    for code in codes:
        parent = cl.code(code).parent or ""
        click.echo(f"{code:<12} {parent:<8} {_one_line(cl.label(code, lang))}")
    click.echo(f"{len(codes)} code(s)", err=True)


@catalog.command("validate")
@click.argument("folders", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--no-bundled",
    is_flag=True,
    help="Check the folders alone, without the bundled catalogue (they must then be complete).",
)
def validate(folders: tuple[Path, ...], no_bundled: bool) -> None:
    """Check the bundled catalogue, with FOLDERS added to it.

    Exit status 0 when everything is valid, 1 with the full report otherwise.
    Nothing in a file is executed.
    """
    problems = catalog_problems(*folders, include_bundled=not no_bundled)
    if problems:
        _fail(str(CatalogError(problems)))
    cat = load_catalog(*folders, include_bundled=not no_bundled)
    click.echo(
        f"catalogue valid: {len(cat.indicators)} indicators, {len(cat.populations)} populations, "
        f"{len(cat.codelists)} codelists, {len(cat.dimensions)} dimensions, "
        f"{len(cat.crosswalks)} crosswalks"
    )


@catalog.command("docs")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@_dirs_option
def docs(out: Path, dirs: tuple[Path, ...]) -> None:
    """Write the Markdown reference (a page per indicator and per codelist) to OUT."""
    from migprofile.docs import write_reference

    written = write_reference(_load(dirs), out)
    click.echo(f"wrote {len(written)} pages to {out}")


@cli.command("inspect")
@click.argument("mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--strict", is_flag=True, help="Fail on warnings too (unmapped codes, invalid values)."
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set a parameter of the mapping (e.g. reporting_country=MDA). Repeatable.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def inspect(mapping: Path, strict: bool, params: tuple[str, ...], fmt: str) -> None:
    """Read a source through its MAPPING and print the reconciliation report.

    Nothing is computed beyond the harmonised tables. Exit status 1 when the
    source has errors, or warnings under --strict.
    """
    from migprofile.sources import MappingError, SourceError, read_source

    values = _parse_params(params)
    try:
        dataset = read_source(mapping, params=values, strict=True if strict else None)
    except MappingError as exc:
        _fail(str(exc))
    except SourceError as exc:
        click.echo(exc.report.to_json() if fmt == "json" else exc.report.to_text())
        sys.exit(1)
    except CatalogError as exc:
        _fail(str(exc))
    report = dataset.report
    click.echo(report.to_json() if fmt == "json" else report.to_text())


@cli.command("compute")
@click.argument("mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-i",
    "--indicator",
    "indicators",
    multiple=True,
    required=True,
    help="An indicator id. Repeatable.",
)
@click.option(
    "--by",
    "by",
    multiple=True,
    help="A breakdown: a dimension, or dimension:level (age:five_year). Repeatable.",
)
@click.option("--no-margins", is_flag=True, help="Leave out the _T total rows.")
@click.option("--where", default=None, help="Restrict to a domain (a filter).")
@click.option(
    "--engine",
    default=None,
    help="The engine that runs the aggregation: pandas, duckdb, dask or auto "
    "(default: pandas, or duckdb with --scan).",
)
@click.option(
    "--scan",
    is_flag=True,
    help="Harmonise the source inside DuckDB into Parquet files (scan_source) instead of "
    "into memory: for sources larger than memory.",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set a definitional parameter (e.g. migrant_basis=CIT). Repeatable.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the result table to this CSV file instead of printing it.",
)
def compute_(
    mapping: Path,
    indicators: tuple[str, ...],
    by: tuple[str, ...],
    no_margins: bool,
    where: str | None,
    params: tuple[str, ...],
    fmt: str,
    out: Path | None,
    engine: str | None,
    scan: bool,
) -> None:
    """Read a source through its MAPPING and compute indicators on it."""
    import pandas as pd

    from migprofile.compute.indicators import compute
    from migprofile.sources import MappingError, SourceError, read_source, scan_source

    values = _parse_params(params)
    engine = engine or ("duckdb" if scan else "pandas")
    try:
        dataset = (
            scan_source(mapping, params=values) if scan else read_source(mapping, params=values)
        )
        table = compute(
            dataset,
            list(indicators),
            by=list(by),
            margins=not no_margins,
            where=where,
            params=values,
            engine=engine,
        )
    except SourceError as exc:
        click.echo(exc.report.to_text(), err=True)
        sys.exit(1)
    except (MappingError, CatalogError, MigprofileError) as exc:
        _fail(str(exc).strip('"'))
    if out is not None:
        table.to_csv(out, index=False)
        click.echo(f"wrote {len(table)} rows to {out}")
        return
    if fmt == "csv":
        click.echo(table.to_csv(index=False), nl=False)
        return
    shown = ["indicator", *by_columns(by), "value", "se", "ci_lower", "ci_upper", "n", "unit"]
    with pd.option_context("display.max_rows", 500, "display.width", 200):
        click.echo(table[[c for c in shown if c in table.columns]].to_string(index=False))


@cli.command("validate")
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
def validate_profile(spec: Path) -> None:
    """Check a profile SPEC completely (structure, indicators, breakdowns,
    sources, charts, filters) without reading data or computing."""
    from migprofile.profile import SpecError, validate_spec

    try:
        loaded = validate_spec(spec)
    except SpecError as exc:
        _fail(str(exc))
    n = sum(len(s.indicators) for s in loaded.sections)
    click.echo(
        f"{spec}: valid ({len(loaded.sections)} sections, {n} tables, "
        f"{len(loaded.sources)} sources, languages {', '.join(loaded.languages)})"
    )


@cli.command("build")
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The output folder (created if needed).",
)
@click.option(
    "--lang",
    "langs",
    multiple=True,
    help="Build only this language (one of the spec's). Repeatable.",
)
@click.option("--engine", default=None, help="Override every source's engine.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("-v", "--verbose", is_flag=True, help="Print every step and every finding.")
def build(
    spec: Path,
    out: Path,
    langs: tuple[str, ...],
    engine: str | None,
    quiet: bool,
    verbose: bool,
) -> None:
    """Build the profile SPEC describes into the folder OUT: tables (CSV,
    Parquet), workbook, SDMX-CSV, HTML report and manifest."""
    from migprofile.profile import BuildError, ProgressEvent, SpecError, build_profile
    from migprofile.sources import SourceError

    tty = sys.stderr.isatty() and not quiet and not verbose
    bar_state: dict[str, object] = {}

    def progress(event: ProgressEvent) -> None:
        if quiet:
            return
        if tty:
            width = 30
            done = int(width * event.step / max(event.total, 1))
            line = f"\r[{'#' * done}{'.' * (width - done)}] {event.step}/{event.total} "
            click.echo((line + event.message)[:100].ljust(100), nl=False, err=True)
            bar_state["open"] = True
        elif verbose or event.stage != "table":
            click.echo(f"[{event.step}/{event.total}] {event.message}", err=True)

    try:
        result = build_profile(spec, out, languages=langs or None, engine=engine, progress=progress)
    except SpecError as exc:
        _fail(str(exc))
    except SourceError as exc:
        _fail(f"{spec}: {exc}\n{exc.report.to_text()}")
    except (BuildError, MigprofileError) as exc:
        _fail(str(exc))
    if bar_state:
        click.echo("", err=True)
    if quiet:
        return
    if verbose:
        for finding in result.findings:
            click.echo(f"  finding: {finding}")
        for gap in result.gaps:
            click.echo(f"  data gap: {gap.section}/{gap.indicator}: {gap.reason}")
    click.echo(
        f"built {len(result.tables)} tables, {len(result.gaps)} data gaps, "
        f"{len(result.paths)} files in {out}"
    )


def by_columns(by: tuple[str, ...]) -> list[str]:
    """The result columns of breakdown arguments (``age:five_year`` -> ``age``)."""
    return [b.partition(":")[0] for b in by]


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``migprofile`` command."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="migprofile")


if __name__ == "__main__":  # pragma: no cover
    main()
