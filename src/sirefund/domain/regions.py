"""Hubei's administrative divisions (GB/T 2260): pure data and lookups, no I/O.

Codes are six-digit strings. The province is ``420000``; prefecture-level divisions end in
``00`` (``420700`` 鄂州市), except the four county-level divisions administered directly by the
province (省直辖县级行政单位: ``429004`` 仙桃市, ``429005`` 潜江市, ``429006`` 天门市,
``429021`` 神农架林区), which are listed both as prefectures (they have no prefecture above
them) and as counties (they are where residents live and what their ID numbers start with).

Used for officers' data scope (``420700`` sees ``4207xx``; ``420000`` sees the province), for
the 行政区划 of bank branches, and by the data generator.
"""

from __future__ import annotations

PROVINCE_CODE = "420000"
PROVINCE_NAME = "湖北省"


#: The 17 prefecture-level divisions (including the 4 province-administered 4290xx units).
PREFECTURES: dict[str, str] = {
    "420100": "武汉市",
    "420200": "黄石市",
    "420300": "十堰市",
    "420500": "宜昌市",
    "420600": "襄阳市",
    "420700": "鄂州市",
    "420800": "荆门市",
    "420900": "孝感市",
    "421000": "荆州市",
    "421100": "黄冈市",
    "421200": "咸宁市",
    "421300": "随州市",
    "422800": "恩施土家族苗族自治州",
    "429004": "仙桃市",
    "429005": "潜江市",
    "429006": "天门市",
    "429021": "神农架林区",
}

#: County-level divisions (市辖区, 县, 县级市, 自治县, 林区) as currently coded.
COUNTIES: dict[str, str] = {
    # 武汉市 — all 13 districts
    "420102": "江岸区",
    "420103": "江汉区",
    "420104": "硚口区",
    "420105": "汉阳区",
    "420106": "武昌区",
    "420107": "青山区",
    "420111": "洪山区",
    "420112": "东西湖区",
    "420113": "汉南区",
    "420114": "蔡甸区",
    "420115": "江夏区",
    "420116": "黄陂区",
    "420117": "新洲区",
    # 黄石市
    "420202": "黄石港区",
    "420203": "西塞山区",
    "420204": "下陆区",
    "420205": "铁山区",
    "420222": "阳新县",
    "420281": "大冶市",
    # 十堰市
    "420302": "茅箭区",
    "420303": "张湾区",
    "420304": "郧阳区",
    "420322": "郧西县",
    "420323": "竹山县",
    "420324": "竹溪县",
    "420325": "房县",
    "420381": "丹江口市",
    # 宜昌市
    "420502": "西陵区",
    "420503": "伍家岗区",
    "420504": "点军区",
    "420505": "猇亭区",
    "420506": "夷陵区",
    "420525": "远安县",
    "420526": "兴山县",
    "420527": "秭归县",
    "420528": "长阳土家族自治县",
    "420529": "五峰土家族自治县",
    "420581": "宜都市",
    "420582": "当阳市",
    "420583": "枝江市",
    # 襄阳市
    "420602": "襄城区",
    "420606": "樊城区",
    "420607": "襄州区",
    "420624": "南漳县",
    "420625": "谷城县",
    "420626": "保康县",
    "420682": "老河口市",
    "420683": "枣阳市",
    "420684": "宜城市",
    # 鄂州市 — all 3 districts
    "420702": "梁子湖区",
    "420703": "华容区",
    "420704": "鄂城区",
    # 荆门市
    "420802": "东宝区",
    "420804": "掇刀区",
    "420822": "沙洋县",
    "420881": "钟祥市",
    "420882": "京山市",
    # 孝感市
    "420902": "孝南区",
    "420921": "孝昌县",
    "420922": "大悟县",
    "420923": "云梦县",
    "420981": "应城市",
    "420982": "安陆市",
    "420984": "汉川市",
    # 荆州市
    "421002": "沙市区",
    "421003": "荆州区",
    "421022": "公安县",
    "421024": "江陵县",
    "421081": "石首市",
    "421083": "洪湖市",
    "421087": "松滋市",
    "421088": "监利市",
    # 黄冈市
    "421102": "黄州区",
    "421121": "团风县",
    "421122": "红安县",
    "421123": "罗田县",
    "421124": "英山县",
    "421125": "浠水县",
    "421126": "蕲春县",
    "421127": "黄梅县",
    "421181": "麻城市",
    "421182": "武穴市",
    # 咸宁市
    "421202": "咸安区",
    "421221": "嘉鱼县",
    "421222": "通城县",
    "421223": "崇阳县",
    "421224": "通山县",
    "421281": "赤壁市",
    # 随州市
    "421303": "曾都区",
    "421321": "随县",
    "421381": "广水市",
    # 恩施土家族苗族自治州
    "422801": "恩施市",
    "422802": "利川市",
    "422822": "建始县",
    "422823": "巴东县",
    "422825": "宣恩县",
    "422826": "咸丰县",
    "422827": "来凤县",
    "422828": "鹤峰县",
    # 省直辖县级行政单位 (their own prefecture)
    "429004": "仙桃市",
    "429005": "潜江市",
    "429006": "天门市",
    "429021": "神农架林区",
}

#: Every known division: province, prefectures and counties (code -> name).
DIVISIONS: dict[str, str] = {PROVINCE_CODE: PROVINCE_NAME, **PREFECTURES, **COUNTIES}


#: Digits of an administrative division code (行政区划代码).
CODE_DIGITS = 6


def _is_code(code: object) -> bool:
    return isinstance(code, str) and len(code) == CODE_DIGITS and code.isascii() and code.isdigit()


def division_name(code: str) -> str | None:
    """The name of a known Hubei division (``"420703"`` -> ``"华容区"``), else None."""
    return DIVISIONS.get(code) if isinstance(code, str) else None


def prefecture_of(code: str) -> str:
    """The prefecture-level code a division belongs to.

    ``"420703"`` -> ``"420700"``; ``"429004"`` -> ``"429004"`` (province-administered units are
    their own prefecture); ``"420700"`` -> ``"420700"``; ``"420000"`` -> ``"420000"``.
    Raises ValueError for anything that is not a six-digit code.
    """
    if not _is_code(code):
        raise ValueError(f"not a six-digit division code: {code!r}")
    if code.startswith("4290"):
        return code
    return code[:4] + "00"


def is_within(region_code: str, scope_code: str) -> bool:
    """Whether ``region_code`` lies inside the area of ``scope_code``.

    * there is no nationwide scope: ``""``, ``"000000"`` or anything that is not six digits
      covers nothing;
    * a province code ``xx0000`` covers ``xx....``;
    * a prefecture code ``xxxx00`` covers ``xxxx..`` (``420700`` covers ``4207xx``);
    * any other code (a county, or a 4290xx unit) covers only itself.
    """
    if not _is_code(region_code) or not _is_code(scope_code) or scope_code == "000000":
        return False
    if scope_code.endswith("0000"):
        return region_code[:2] == scope_code[:2]
    if scope_code.endswith("00"):
        return region_code[:4] == scope_code[:4]
    return region_code == scope_code


def scope_name(code: str) -> str:
    """An officer's area in words: ``420000`` -> ``湖北省全省``, ``420700`` -> ``鄂州市全市``,
    ``420703`` -> ``华容区``; an unknown code -> ``行政区划 <code>``."""
    name = division_name(code)
    if name is None:
        return f"行政区划 {code}"
    if code == PROVINCE_CODE:
        return f"{name}全省"
    if code.endswith("00"):
        return f"{name}全市"
    return name


def is_known_hubei_division(code: str) -> bool:
    """Whether ``code`` is the province, a prefecture or a county listed here."""
    return isinstance(code, str) and code in DIVISIONS
