"""Cut the Moldova extracts of examples/moldova/data/ from the shared real data.

Run by a developer, from anywhere::

    python examples/moldova/extract.py [--shared /work/shared/data] [--check]

Every extract keeps the header (and, for the World Bank download format, its
preamble lines) and the data lines selected below, byte for byte as they are
in the shared file: no value, quote, line ending or byte-order mark is
changed; lines are only left out. ``--check`` compares the extracts with the
files in ``data/`` instead of writing them (exit status 1 on a difference).

Tests never run the cut against the shared folder unless it exists: the
example reads only the committed files of ``data/``.

What is kept, file by file (shared path -> extract):

* ``un_ims2020_bilateral_by_sex/ims2020_bilateral_stock_by_sex_iso3.csv`` ->
  ``un_ims2020_bilateral_by_sex_mda.csv``: the lines whose ``origin_iso3`` is
  MDA (persons born in Moldova, by country of residence) or whose
  ``destination_iso3`` is MDA (immigrants in Moldova, by origin); every sex
  and year (1990-2020).
* ``un_ims2020_destination/ims2020_dest_tableN.csv`` (N = 1 to 5) ->
  ``un_ims2020_dest_tableN_mda.csv``: the line of code 498 (Republic of
  Moldova).
* ``wpp2022/wpp2022_annual_net_migration.csv`` ->
  ``wpp2022_net_migration_mda.csv``: the lines of country_code 498
  (estimates 1950-2021, medium variant 2022-2100).
* ``wpp2022/wpp_pop_single_age_sex_moldova_1950_2021.csv`` ->
  ``wpp2022_pop_single_age_sex_mda.csv``: the whole file (it is Moldova's
  already).
* ``wdi/API_SM.POP.NETM_DS2_en_csv_v2_3401672.csv`` ->
  ``wdi_sm_pop_netm_mda.csv``: the four preamble lines, the header and the
  line of country code MDA.
* ``wdi/gdiviz_wdi_fsi_indicators_1990_2023.csv`` ->
  ``wdi_gdiviz_mda_<var>.csv`` for var in pop, remin, remout: the lines of
  iso3 MDA and that ``var``, one file per variable (so that a mapping can
  name each file's series).
* ``wb_remittances/wb_knomad_remittance_inflows_usd_millions_dec2018.csv`` ->
  ``wb_knomad_remittance_inflows_mda.csv``: the line of country Moldova.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
DEFAULT_SHARED = Path("/work/shared/data")

Keep = Callable[[dict[str, str]], bool]


def _cut(raw: bytes, keep: Keep, preamble: int = 0) -> bytes:
    """The first ``preamble`` lines, the header line and the lines whose parsed
    fields satisfy ``keep``, as the original bytes."""
    lines = raw.splitlines(keepends=True)
    head = lines[: preamble + 1]
    header_text = head[-1].decode("utf-8-sig")
    names = next(csv.reader(io.StringIO(header_text)))
    out = list(head)
    for line in lines[preamble + 1 :]:
        text = line.decode("utf-8")
        if not text.strip():
            continue
        fields = next(csv.reader(io.StringIO(text)))
        if keep(dict(zip(names, fields, strict=False))):
            out.append(line)
    return b"".join(out)


def _field(name: str, *values: str) -> Keep:
    return lambda row: row.get(name) in values


def extracts(shared: Path) -> dict[str, bytes]:
    """Every extract, by file name in ``data/``, cut from the shared folder."""
    out: dict[str, bytes] = {}

    bilateral = shared / "un_ims2020_bilateral_by_sex" / "ims2020_bilateral_stock_by_sex_iso3.csv"
    out["un_ims2020_bilateral_by_sex_mda.csv"] = _cut(
        bilateral.read_bytes(),
        lambda row: row["origin_iso3"] == "MDA" or row["destination_iso3"] == "MDA",
    )
    for n in range(1, 6):
        table = shared / "un_ims2020_destination" / f"ims2020_dest_table{n}.csv"
        out[f"un_ims2020_dest_table{n}_mda.csv"] = _cut(table.read_bytes(), _field("code", "498"))

    wpp = shared / "wpp2022"
    out["wpp2022_net_migration_mda.csv"] = _cut(
        (wpp / "wpp2022_annual_net_migration.csv").read_bytes(), _field("country_code", "498")
    )
    out["wpp2022_pop_single_age_sex_mda.csv"] = (
        wpp / "wpp_pop_single_age_sex_moldova_1950_2021.csv"
    ).read_bytes()

    wdi = shared / "wdi"
    out["wdi_sm_pop_netm_mda.csv"] = _cut(
        (wdi / "API_SM.POP.NETM_DS2_en_csv_v2_3401672.csv").read_bytes(),
        _field("Country Code", "MDA"),
        preamble=4,
    )
    long_form = (wdi / "gdiviz_wdi_fsi_indicators_1990_2023.csv").read_bytes()
    for var in ("pop", "remin", "remout"):
        out[f"wdi_gdiviz_mda_{var}.csv"] = _cut(
            long_form, lambda row, v=var: row["iso3"] == "MDA" and row["var"] == v
        )

    knomad = shared / "wb_remittances" / "wb_knomad_remittance_inflows_usd_millions_dec2018.csv"
    out["wb_knomad_remittance_inflows_mda.csv"] = _cut(
        knomad.read_bytes(), _field("country", "Moldova")
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    cut = extracts(args.shared)
    status = 0
    for name, content in sorted(cut.items()):
        target = DATA / name
        if args.check:
            same = target.exists() and target.read_bytes() == content
            print(f"{'same' if same else 'DIFFERS'}  {name}")
            status |= not same
        else:
            DATA.mkdir(exist_ok=True)
            target.write_bytes(content)
            print(f"wrote {name} ({len(content):,} bytes)")
    return status


if __name__ == "__main__":
    sys.exit(main())
