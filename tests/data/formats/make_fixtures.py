"""Write the reader fixtures: one person extract in every format, and the bad inputs.

Run once from anywhere (``python tests/data/formats/make_fixtures.py``); the
files are committed. Their content depends only on this script; the bytes of
the text and parquet files too, while the Stata, SPSS and Excel files also
record when they were written (and pyarrow, pyreadstat and openpyxl stamp
their names and versions). Needs the ``stata`` and ``excel`` extras.

The extract (:data:`ROWS`) is invented, census-like: 12 persons in 6
households. It has a missing age (person 5), codes with leading zeros
(``008``, ``076``), text outside ASCII that latin-1 can encode (``Durrës``,
``Bogotá``, ``Köln``, ``Zürich``, ``São Paulo``) and a field holding the
delimiter (``Washington, D.C.``).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyreadstat
import yaml

HERE = Path(__file__).parent
BAD = HERE.parent / "bad"

COLUMNS = (
    "person_id",
    "hh_id",
    "line_no",
    "sex",
    "age",
    "country_of_birth",
    "birthplace",
    "weight",
)
ROWS: tuple[tuple[int, int, int, int, int | None, str, str, float], ...] = (
    (1, 101, 1, 1, 34, "498", "Chisinau", 1.25),
    (2, 101, 2, 2, 31, "642", "Bucharest", 1.25),
    (3, 101, 3, 2, 4, "498", "Chisinau", 1.25),
    (4, 102, 1, 1, 52, "008", "Tirana", 0.875),
    (5, 102, 2, 2, None, "008", "Durrës", 0.875),
    (6, 103, 1, 2, 27, "170", "Bogotá", 2.5),
    (7, 104, 1, 1, 45, "276", "Köln", 1.5),
    (8, 104, 2, 2, 44, "756", "Zürich", 1.5),
    (9, 104, 3, 1, 12, "276", "Köln", 1.5),
    (10, 105, 1, 1, 61, "076", "São Paulo", 3.125),
    (11, 106, 1, 2, 23, "840", "Washington, D.C.", 0.625),
    (12, 106, 2, 1, 0, "804", "Kyiv", 0.625),
)
SEX_LABELS = {1: "Male", 2: "Female"}
COLUMN_LABELS = {
    "person_id": "Person identifier",
    "hh_id": "Household identifier",
    "line_no": "Line number in the household",
    "sex": "Sex",
    "age": "Age in completed years",
    "country_of_birth": "Country of birth (M49 code)",
    "birthplace": "Lieu de naissance (localité)",
    "weight": "Sampling weight",
}
# fixed width: a record-type letter in position 1 lies outside every column
LAYOUT = (
    ("person_id", 2, 4),
    ("hh_id", 5, 7),
    ("line_no", 8, 9),
    ("sex", 10, 10),
    ("age", 11, 13),
    ("country_of_birth", 14, 16),
    ("birthplace", 17, 32),
    ("weight", 33, 38),
)


def csv_text(delimiter: str = ",", newline: str = "\n") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    writer.writerow(COLUMNS)
    for row in ROWS:
        writer.writerow("" if v is None else v for v in row)
    return out.getvalue()


def fixed_width_text() -> str:
    lines = []
    for row in ROWS:
        pid, hh, line, sex, age, cob, place, weight = row
        lines.append(
            f"P{pid:>3}{hh:>3}{line:>2}{sex:>1}{'' if age is None else age:>3}"
            f"{cob:>3}{place:<16}{weight:>6}"
        )
    return "\n".join(lines) + "\n"


def frame() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=list(COLUMNS))


def write_parquet(path: Path) -> None:
    schema = pa.schema(
        [
            ("person_id", pa.int32()),
            ("hh_id", pa.int32()),
            ("line_no", pa.int8()),
            ("sex", pa.int8()),
            ("age", pa.int16()),
            ("country_of_birth", pa.string()),
            ("birthplace", pa.string()),
            ("weight", pa.float64()),
        ]
    )
    columns = list(zip(*ROWS, strict=True))
    table = pa.table(
        [pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)], schema=schema
    )
    # small row groups, so that chunked reading crosses row-group boundaries
    pq.write_table(table, path, row_group_size=4)


def write_stata_spss() -> None:
    df = frame()
    df["age"] = df["age"].astype("float64")
    pyreadstat.write_dta(
        df,
        HERE / "persons.dta",
        column_labels=COLUMN_LABELS,
        variable_value_labels={"sex": SEX_LABELS},
    )
    # SPSS: the missing age is the code 999, declared user-missing
    sav = df.copy()
    sav["age"] = sav["age"].fillna(999.0)
    pyreadstat.write_sav(
        sav,
        HERE / "persons.sav",
        column_labels=COLUMN_LABELS,
        variable_value_labels={"sex": SEX_LABELS},
        missing_ranges={"age": [999]},
    )


def write_excel(path: Path) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "P1"
    ws.append(["Census 2024 (test data): persons, an extract"])
    ws.append(["Table P1. Persons by household, sex, age and place of birth"])
    ws.merge_cells("A1:H1")
    ws.merge_cells("A2:H2")
    ws.append(list(COLUMNS))
    for row in ROWS:
        cells: list[object] = list(row)
        if cells[4] is None:
            cells[4] = ".."
        if row[0] == 7:
            cells[6] = f"{row[6]}*"  # footnote mark
        ws.append(cells)
    ws.append([])
    ws.append(["Note: * birthplace recorded before the boundary change."])
    ws.append(["Source: migprofile test fixture, not real data."])
    # a second sheet, so that the sheet option is exercised
    other = book.create_sheet("Contents")
    other.append(["Table P1", "Persons"])
    fixed = datetime(2024, 1, 1)
    book.properties.created = fixed
    book.properties.modified = fixed
    book.save(path)


def write_bad() -> None:
    BAD.mkdir(exist_ok=True)
    good = csv_text()
    lines = good.splitlines(keepends=True)
    # latin-1 bytes in a file declared utf-8; the first is in 'Durrës' (line 6)
    (BAD / "error_encoding.csv").write_bytes(good.encode("latin-1"))
    many = lines.copy()
    many[3] = many[3].rstrip("\n") + ",extra\n"
    many[7] = many[7].rstrip("\n") + ",x,y\n"
    (BAD / "error_too_many_fields.csv").write_text("".join(many), encoding="utf-8")
    few = lines.copy()
    few[4] = ",".join(few[4].split(",")[:5]) + "\n"
    (BAD / "error_too_few_fields.csv").write_text("".join(few), encoding="utf-8")
    # truncated inside the quoted 'Washington, D.C.' of line 12
    cut = good.index('"Washington, D.C') + len('"Washington, D.C')
    (BAD / "error_unterminated_quote.csv").write_text(good[:cut], encoding="utf-8")
    (BAD / "error_empty.csv").write_bytes(b"")
    (BAD / "error_blank.csv").write_bytes(b"  \n\n \t\n")
    (BAD / "valid_header_only.csv").write_text(lines[0], encoding="utf-8")
    (BAD / "error_duplicate_header.csv").write_text(
        "person_id,sex,age,sex\n1,1,34,1\n", encoding="utf-8"
    )
    whole = (HERE / "persons.parquet").read_bytes()
    (BAD / "error_truncated.parquet").write_bytes(whole[: len(whole) // 2])
    fw = fixed_width_text().splitlines(keepends=True)
    fw[3] = fw[3].rstrip("\n")[:30] + "\n"  # line 4 cut inside the birthplace
    (BAD / "error_short_line.dat").write_text("".join(fw), encoding="utf-8")


def main() -> None:
    (HERE / "persons.csv").write_text(csv_text(), encoding="utf-8", newline="")
    (HERE / "persons_latin1.csv").write_bytes(csv_text(";", "\r\n").encode("latin-1"))
    (HERE / "persons.dat").write_text(fixed_width_text(), encoding="utf-8", newline="")
    layout = {
        "path": "persons.dat",
        "columns": [{"name": n, "start": a, "end": b} for n, a, b in LAYOUT],
    }
    (HERE / "persons_layout.yaml").write_text(
        "# Record layout of persons.dat (1-based, inclusive positions; position 1 is a\n"
        "# record-type letter outside every column). Written by make_fixtures.py.\n"
        + yaml.safe_dump(layout, sort_keys=False),
        encoding="utf-8",
    )
    write_parquet(HERE / "persons.parquet")
    write_stata_spss()
    write_excel(HERE / "persons.xlsx")
    write_bad()


if __name__ == "__main__":
    main()
