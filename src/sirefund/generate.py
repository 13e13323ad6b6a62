"""Realistic, deterministic import files for demos and benchmarks (``sirefund generate``).

:func:`generate` writes the five CSV files of docs/operations.md ("Import files") into a
directory. The output depends only on ``(persons, seed, pension_payments, demo)``: all
randomness comes from ``random.Random(seed)`` (and streams seeded from it); the clock and the
global ``random`` are never used, so the same arguments give byte-identical files.

Rows are streamed to the files as they are made. A person is a pure function of its index
(:meth:`_People.get`), so nothing per row is kept in memory; the only thing that grows with
the input is one 4-byte index per person (persons grouped by prefecture, to pick the villagers
of a unit from its own prefecture).

What is generated
-----------------
* **Persons**: Chinese names, distinct valid 18-digit resident ID numbers (a county of
  :data:`~sirefund.domain.regions.COUNTIES`, birth date 1935-01-01..2015-12-31, a sequence
  number 100-999 whose parity matches the name's gender, GB 11643 check digit). Their
  ``region_code`` is the ID's county code. Sequence numbers below 100 are never generated, so
  they cannot collide with the fixed demo identities below.
* **Pension payments** (城乡居民养老): 1-3 per person (or exactly ``pension_payments`` in all,
  spread evenly), payment years 2018-2026, single-year periods or multi-year back payments
  (补缴, e.g. 2021-10-31..2025-10-31), arrival status about 50 % arrived / 35 % not_arrived /
  15 % abnormal.
* **Medical registrations and payments** (城乡居民医保): about 70 % of persons registered, about
  10 % of those twice (with a different agency); payments for insurance years 2022-2027,
  period 1 Jan..31 Dec of that year, paid in the collection window (1 Sept of the previous year
  to the end of February), 320.00-400.00 plus an optional long-term-care amount.
* **Units** (village committees, 村民委员会), one per 50 persons (at least one), each with
  unit payments of the three types; every payment has 2-12 person lines drawn from persons of
  the unit's prefecture, and its amount is the exact sum of its lines.

No generated date is later than :data:`DATA_AS_OF`, so the data never lies in the future of the
day it was designed for, whatever the clock says.

Demo identities (``demo=True``)
-------------------------------
Persons 0-6 are fixed (:data:`DEMO_PERSONS`) and count towards ``persons`` (at least 7):

* 0 — :data:`DEMO_PERSON_NAME` 邱世贵, :data:`DEMO_PERSON_ID_NUMBER` (华容区, born 1958-03-12).
  Pension payments: two ``not_arrived`` of payment year 2025 (a 2021-10-31..2025-10-31 back
  payment of 700.00 and a 2025 payment of 1000.00), one ``arrived`` of 2024 (500.00) and one
  ``abnormal`` of 2025 (200.00). One medical registration (华容区医疗保障局(城乡医疗)) with
  payments for insurance years 2022 (320.00, too old to refund), 2024 (380.00 + 20.00 长护)
  and 2026 (350.00).
* 1 — :data:`DEMO_SECOND_PERSON_NAME` 李伊岚, :data:`DEMO_SECOND_PERSON_ID_NUMBER` (江汉区, born
  2016-05-17; the manual's example): no pension payments, two medical registrations
  (武汉市医疗保障局(医疗) with 2023 and 2026 payments; 江汉区医疗保障局(城乡医疗) with a 2025
  payment).
* 2-6 — villagers of 鄂州市 with fixed identities and generated payments.

Unit 0 is :data:`DEMO_UNIT_NAME` (:data:`DEMO_UNIT_TAX_ID`, 华容区) with three payments of 2025:
a ``collective_subsidy`` for persons 0, 2-6 (6 × 200.00), a ``special_group_proxy`` for persons
2, 3, 5, 6 (4 × 100.00) and a ``normal`` one for persons 0, 3, 4 (3 × 300.00). Their ids are in
:data:`DEMO_UNIT_PAYMENT_IDS`.
"""

from __future__ import annotations

import calendar
import csv
import random
from array import array
from collections.abc import Sequence
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from stdnum.cn import ric, uscc

from .domain.regions import COUNTIES, PREFECTURES, prefecture_of

if TYPE_CHECKING:  # the type csv.writer returns is named only in the stubs
    from _csv import Writer as CsvWriter

__all__ = [
    "DATA_AS_OF",
    "DEMO_PERSONS",
    "DEMO_PERSON_ID_NUMBER",
    "DEMO_PERSON_NAME",
    "DEMO_PERSON_PHONE",
    "DEMO_SECOND_PERSON_ID_NUMBER",
    "DEMO_SECOND_PERSON_NAME",
    "DEMO_UNIT_NAME",
    "DEMO_UNIT_PAYMENT_IDS",
    "DEMO_UNIT_SS_NO",
    "DEMO_UNIT_TAX_ID",
    "FILES",
    "IDENTITIES_FILE",
    "PAYMENTS_PER_PERSON",
    "UNIT_EVERY_PERSONS",
    "generate",
]

# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------

#: KIND -> (file name, header). KIND is what ``sirefund import KIND`` takes.
FILES: dict[str, tuple[str, tuple[str, ...]]] = {
    "pension-payments": (
        "pension-payments.csv",
        (
            "payment_id", "id_number", "name", "region_code", "amount", "period_start",
            "period_end", "payment_year", "payment_date", "channel", "arrival_status",
        ),
    ),
    "medical-registrations": (
        "medical-registrations.csv",
        ("registration_id", "id_number", "name", "region_code", "agency_code", "agency_name",
         "ss_code"),
    ),
    "medical-payments": (
        "medical-payments.csv",
        ("payment_id", "registration_id", "ticket_no", "item_name", "medical_amount",
         "ltc_amount", "period_start", "period_end", "payment_date", "channel"),
    ),
    "unit-payments": (
        "unit-payments.csv",
        ("unit_payment_id", "unit_tax_id", "unit_name", "unit_ss_no", "region_code",
         "payment_type", "payment_year", "payment_month", "amount", "period_start",
         "period_end", "declaration_channel"),
    ),
    "unit-payment-persons": (
        "unit-payment-persons.csv",
        ("unit_payment_id", "line_id", "id_number", "name", "ss_no", "amount"),
    ),
    "units": (
        "units.csv",
        ("unit_tax_id", "unit_name", "region_code", "handler_id_number", "handler_name",
         "handler_phone"),
    ),
}  # fmt: skip
#: Not an import: the identity simulator's registry (who holds which phone, by real name),
#: loaded with SIREFUND_SIM_IDENTITIES_FILE. Every generated person is in it.
IDENTITIES_FILE = ("identities.csv", ("id_number", "name", "phone", "death_date"))

# --------------------------------------------------------------------------------------------
# Tunables
# --------------------------------------------------------------------------------------------

#: Pension payments per person when ``pension_payments`` is not given (drawn uniformly).
PAYMENTS_PER_PERSON: tuple[int, ...] = (1, 2, 3)
#: One unit (village committee) per this many persons, at least one when there are persons.
UNIT_EVERY_PERSONS = 50
#: Share of persons with a medical registration, and of those with a second one.
MEDICAL_REGISTERED_SHARE = 0.70
MEDICAL_SECOND_REGISTRATION_SHARE = 0.10
#: No generated date is later than this day.
DATA_AS_OF = date(2026, 11, 20)

PENSION_YEARS = range(2018, 2027)
MEDICAL_YEARS = range(2022, 2028)
UNIT_YEARS = range(2020, 2027)
_BIRTH_FIRST = date(1935, 1, 1)
_BIRTH_LAST = date(2015, 12, 31)
_SEQ_FIRST = 100  # sequence numbers 000-099 are reserved for fixed (demo) identities
_SEQ_COUNT = 900

PENSION_CHANNELS = ("楚税通", "电子税务局", "银行柜台", "社保经办大厅")
MEDICAL_CHANNELS = ("楚税通", "电子税务局", "银行柜台", "社保经办大厅")
DECLARATION_CHANNELS = ("电子税务局", "电子税务局", "办税服务厅", "楚税通")
MEDICAL_ITEM = "城乡居民基本医疗保险费"
#: Yearly pension grades in yuan, common ones repeated.
_PENSION_GRADES = (
    100, 200, 200, 200, 300, 300, 300, 400, 500, 500, 500, 600, 700, 700, 800, 900,
    1000, 1000, 1000, 1500, 2000, 2000, 3000, 4000, 5000,
)  # fmt: skip
#: Back payments (补缴) over several years, in yuan.
_BACK_AMOUNTS = (300, 500, 700, 700, 800, 1000, 1200, 1500, 2000, 2400, 3000, 4000, 5000)
#: Medical amounts in fen, and long-term-care amounts ("" means 0).
_MEDICAL_FEN = (32000, 35000, 35000, 38000, 38000, 40000)
_LTC = ("", "", "", "0.00", "0.00", "10.00", "15.00", "20.00", "30.00")
_UNIT_TYPES = ("collective_subsidy", "special_group_proxy", "normal")
#: Per-person amounts in yuan by unit payment type.
_UNIT_GRADES = {
    "collective_subsidy": (100, 200, 200, 300),
    "special_group_proxy": (100, 100, 200),
    "normal": (200, 300, 500, 700, 1000),
}

_SURNAMES = (
    "王王王李李李张张张刘刘陈陈杨杨黄赵吴周徐孙马朱胡胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾"
    "肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江"
    "尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤柯喻涂童"
)
_MALE_GIVEN = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆旭宁龙林阳建国峰志文海山春生德成兵世贵福祥荣发家庆永"
_FEMALE_GIVEN = "芳娜敏静丽艳娟霞秀英玲桂兰红梅琴云莲凤洁燕萍雪琳晶颖倩婷慧佳欣怡悦彤月淑珍翠菊香"
_TOWNS = (
    "段店",
    "庙岭",
    "蒲团",
    "临江",
    "华容",
    "葛店",
    "涂家垴",
    "太和",
    "东沟",
    "沙窝",
    "新店",
    "杨叶",
    "长港",
    "汀祖",
    "燕矶",
    "花湖",
    "泽林",
    "碧石",
    "杜山",
    "沙河",
)
_VILLAGES = (
    "新庙",
    "红星",
    "东港",
    "桥头",
    "西湾",
    "柳林",
    "石桥",
    "长岭",
    "胜利",
    "团结",
    "光明",
    "荷花",
    "杨湾",
    "李岗",
    "高桥",
    "南湖",
    "北港",
    "王湾",
    "陈坊",
    "大屋",
    "前进",
    "和平",
    "新华",
    "联合",
    "三合",
    "五四",
    "黄山",
    "泉塘",
    "松林",
    "建新",
)

# --------------------------------------------------------------------------------------------
# Demo identities (fixed; see the module docstring)
# --------------------------------------------------------------------------------------------

DEMO_PERSON_NAME = "邱世贵"
DEMO_PERSON_ID_NUMBER = "420703195803120232"  # 华容区, 1958-03-12, seq 023
DEMO_SECOND_PERSON_NAME = "李伊岚"
DEMO_SECOND_PERSON_ID_NUMBER = "420103201605170429"  # 江汉区, 2016-05-17, seq 042
#: (id_number, name) of persons 0-6 when ``demo=True``.
DEMO_PERSONS: tuple[tuple[str, str], ...] = (
    (DEMO_PERSON_ID_NUMBER, DEMO_PERSON_NAME),
    (DEMO_SECOND_PERSON_ID_NUMBER, DEMO_SECOND_PERSON_NAME),
    ("42070319620415032X", "王秀英"),
    ("420703194709230473", "张建国"),
    ("420703195511080582", "刘桂兰"),
    ("420702197002260617", "陈志强"),
    ("420704198812300745", "杨春梅"),
)
#: 继承人代办: demo person 6 (杨春梅) has died; HRSS's death registry (the simulator, from
#: identities.csv) knows the date. Person 0 may claim her not-arrived payment as an heir.
DEMO_DECEASED = 6
DEMO_DECEASED_DEATH_DATE = "2025-08-16"
#: Person 0's phone (the demo logs in with it; codes for it appear in the SMS simulator).
DEMO_PERSON_PHONE = "13800001234"
DEMO_UNIT_NAME = "华容区庙岭镇新庙村村民委员会"
DEMO_UNIT_TAX_ID = "54420703MEC100012G"  # valid GB 32100 code; random units use digits only
DEMO_UNIT_SS_NO = "420703000000"  # random units end in a non-zero unit number
DEMO_UNIT_REGION = "420703"
#: The demo unit's 办税员 on record: demo person 2 (王秀英), a villager of the unit.
DEMO_UNIT_HANDLER = 2
DEMO_UNIT_PAYMENT_IDS = {
    "collective_subsidy": "UP000000001",
    "special_group_proxy": "UP000000002",
    "normal": "UP000000003",
}

# Fixed rows. Pension: (status, payment_year, yuan, period_start, period_end, date, channel)
_DEMO_PENSION = (
    ("not_arrived", 2025, 700, "2021-10-31", "2025-10-31", "2025-10-31", "楚税通"),
    ("not_arrived", 2025, 1000, "2025-01-01", "2025-12-31", "2025-03-18", "电子税务局"),
    ("arrived", 2024, 500, "2024-01-01", "2024-12-31", "2024-04-09", "银行柜台"),
    ("abnormal", 2025, 200, "2025-01-01", "2025-12-31", "2025-06-20", "社保经办大厅"),
)
# Medical: person -> [(agency_code, agency_name, [(year, medical_fen, ltc, date, channel)])]
_DEMO_MEDICAL = {
    0: [
        ("H42070300001", "华容区医疗保障局(城乡医疗)", [
            (2022, 32000, "", "2021-11-05", "银行柜台"),
            (2024, 38000, "20.00", "2023-10-12", "楚税通"),
            (2026, 35000, "", "2025-10-15", "楚税通"),
        ]),
    ],
    1: [
        ("H42010000001", "武汉市医疗保障局(医疗)", [
            (2023, 35000, "", "2022-09-06", "电子税务局"),
            (2026, 35000, "", "2025-09-20", "电子税务局"),
        ]),
        ("H42010300001", "江汉区医疗保障局(城乡医疗)", [
            (2025, 38000, "10.00", "2024-11-18", "楚税通"),
        ]),
    ],
}  # fmt: skip
# Unit 0: (type, month, yuan per line, person indices, declaration channel)
_DEMO_UNIT_PAYMENTS = (
    ("collective_subsidy", 1, 200, (0, 2, 3, 4, 5, 6), "电子税务局"),
    ("special_group_proxy", 3, 100, (2, 3, 5, 6), "电子税务局"),
    ("normal", 6, 300, (0, 3, 4), "办税服务厅"),
)
_DEMO_YEAR = 2025

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

_M64 = (1 << 64) - 1
#: GB 11714 computes its check character modulo 11.
_ORG_MODULUS = 11
_DECEMBER = 12
#: Share of pension payments for a single year (the rest are back payments), and the
#: thresholds of the arrival status draw: arrived below the first, not_arrived below the second.
_SINGLE_YEAR_SHARE = 0.8
_ARRIVED_BELOW, _NOT_ARRIVED_BELOW = 0.5, 0.85
#: Person lines of a unit payment, and the share of lines paying the payment's usual grade.
_MIN_LINES, _MAX_LINES = 2, 12
_SAME_GRADE_SHARE = 0.9


def _mix64(x: int) -> int:
    """splitmix64 finaliser: a bijection on 64-bit integers with good avalanche."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


@cache
def _day_strings(first_year: int, last_year: int, fmt: str) -> tuple[str, ...]:
    """Every day of the years, in order, formatted with ``fmt`` (fields y, m, d)."""
    return tuple(
        fmt.format(y=y, m=m, d=d)
        for y in range(first_year, last_year + 1)
        for m in range(1, 13)
        for d in range(1, calendar.monthrange(y, m)[1] + 1)
    )


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _org_check(body: str) -> str:
    """GB 11714 check character of an 8-character organisation code body."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(
        (int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body, weights, strict=True)
    )
    c = _ORG_MODULUS - total % _ORG_MODULUS
    return "X" if c == _ORG_MODULUS - 1 else "0" if c == _ORG_MODULUS else str(c)


def _unit_tax_id(county: str, body: str) -> str:
    """A GB 32100 unified social credit code of a village committee (category 54)."""
    first17 = "54" + county + body + _org_check(body)
    return first17 + uscc.calc_check_digit(first17)


class _Calendar:
    """Dates as indices into a table of ``YYYY-MM-DD`` strings (fast to pick and format)."""

    FIRST = date(2010, 1, 1)

    def __init__(self) -> None:
        self.text = _day_strings(self.FIRST.year, 2028, "{y:04d}-{m:02d}-{d:02d}")
        self.as_of = self.index(DATA_AS_OF)

    def index(self, d: date) -> int:
        return (d - self.FIRST).days

    def clamp(self, idx: int) -> int:
        return min(idx, self.as_of)


class _People:
    """Person ``i`` as a pure function of ``i``: ``(id_number, name, county_code)``.

    Distinct IDs come from a keyed permutation (a Feistel network with cycle walking) of the
    person index over the space county × birth day × sequence number 100-999, decoded into the
    17 digits; the check digit is GB 11643's. The name is drawn from a 64-bit hash of the index
    and matches the gender encoded in the sequence number (odd = male).
    """

    def __init__(self, rng: random.Random, persons: int, demo: bool) -> None:
        self.counties = sorted(COUNTIES)
        days = (_BIRTH_LAST - _BIRTH_FIRST).days + 1
        self.births = _day_strings(_BIRTH_FIRST.year, _BIRTH_LAST.year, "{y:04d}{m:02d}{d:02d}")
        assert len(self.births) == days
        self.per_county = days * _SEQ_COUNT
        self.space = len(self.counties) * self.per_county
        if persons > self.space:
            raise ValueError(f"at most {self.space} persons can be generated")
        bits = self.space.bit_length()
        bits += bits & 1
        self.half = bits // 2
        self.mask = (1 << self.half) - 1
        self.round_keys = tuple(rng.getrandbits(self.half) for _ in range(4))
        self.name_key = rng.getrandbits(64)
        self.fixed: dict[int, tuple[str, str, str]] = {}
        if demo:
            for i, (id_number, name) in enumerate(DEMO_PERSONS):
                self.fixed[i] = (id_number, name, id_number[:6])

    def _permute(self, x: int) -> int:
        half, mask, space = self.half, self.mask, self.space
        k0, k1, k2, k3 = self.round_keys
        while True:
            left, right = x >> half, x & mask
            for k in (k0, k1, k2, k3):
                f = ((right ^ k) * 0x9E3779B1) & 0xFFFFFFFF
                left, right = right, left ^ ((f ^ (f >> 15)) & mask)
            x = (left << half) | right
            if x < space:
                return x

    def get(self, i: int) -> tuple[str, str, str]:
        fixed = self.fixed.get(i)
        if fixed is not None:
            return fixed
        p = self._permute(i)
        county_index, rest = divmod(p, self.per_county)
        day, seq = divmod(rest, _SEQ_COUNT)
        seq += _SEQ_FIRST
        county = self.counties[county_index]
        first17 = f"{county}{self.births[day]}{seq:03d}"
        id_number = first17 + ric.calc_check_digit(first17 + "0")
        h = _mix64((self.name_key + i) & _M64)
        surname = _SURNAMES[h % len(_SURNAMES)]
        h //= len(_SURNAMES)
        given = _MALE_GIVEN if seq & 1 else _FEMALE_GIVEN
        n = len(given)
        name = surname + given[h % n]
        h //= n
        if h & 3:  # three in four have a two-character given name
            name += given[(h >> 2) % n]
        return id_number, name, county


def _agencies(county: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """The two medical-security agencies a resident of ``county`` may be registered with."""
    local = (f"H{county}00001", f"{COUNTIES[county]}医疗保障局(城乡医疗)")
    pref = prefecture_of(county)
    if pref == county:  # 4290xx: no prefecture above; the provincial bureau instead
        return local, ("H42000000001", "湖北省医疗保障局(省直医疗)")
    return local, (f"H{pref}00001", f"{PREFECTURES[pref]}医疗保障局(医疗)")


# --------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------


def generate(
    persons: int,
    seed: int,
    out_dir: Path,
    *,
    pension_payments: int | None = None,
    demo: bool = False,
) -> dict[str, int]:
    """Write the six import files (and the identity registry, IDENTITIES_FILE) into ``out_dir`` and return the row count per KIND.

    ``persons``: number of persons (including the 7 fixed demo persons when ``demo``).
    ``pension_payments``: when given, exactly this many pension rows are written (the demo
    person's 4 fixed rows included), spread evenly over the generated persons; otherwise
    each person gets one of :data:`PAYMENTS_PER_PERSON` payments.
    The returned keys are the KINDs of :data:`FILES` (file names without ``.csv``).
    """
    if persons < 0:
        raise ValueError("persons must not be negative")
    if demo and persons < len(DEMO_PERSONS):
        raise ValueError(f"demo data needs at least {len(DEMO_PERSONS)} persons")
    if pension_payments is not None and pension_payments < 0:
        raise ValueError("pension_payments must not be negative")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    master = random.Random(seed)
    people = _People(master, persons, demo)
    rng_pension = random.Random(master.getrandbits(64))
    rng_medical = random.Random(master.getrandbits(64))
    rng_unit = random.Random(master.getrandbits(64))
    cal = _Calendar()

    # Persons 0..first_random-1 have fixed payments (demo); the rest get generated ones.
    first_random = 2 if demo else 0
    fixed_pension_rows = len(_DEMO_PENSION) if demo else 0
    extra = 0
    if pension_payments is not None:
        extra = pension_payments - fixed_pension_rows
        if extra < 0:
            raise ValueError(f"demo data has {fixed_pension_rows} fixed pension payments")
        if extra and persons <= first_random:
            raise ValueError("pension_payments needs persons to carry them")

    counts = dict.fromkeys(FILES, 0)
    handles: dict[str, TextIO] = {
        kind: open(out_dir / name, "w", encoding="utf-8", newline="")  # noqa: SIM115
        for kind, (name, _header) in FILES.items()
    }
    try:
        writers = {kind: csv.writer(fh, lineterminator="\n") for kind, fh in handles.items()}
        for kind, (_name, header) in FILES.items():
            writers[kind].writerow(header)
        person_files = _PersonFiles(cal, rng_pension, rng_medical, handles)
        spread = extra if pension_payments is not None else None
        buckets = _write_person_files(people, persons, first_random, spread, demo, person_files)
        counts.update(person_files.counts())
        _write_unit_files(people, persons, demo, rng_unit, buckets, writers, counts)
    finally:
        for fh in handles.values():
            fh.close()
    _write_identities(people, persons, out_dir / IDENTITIES_FILE[0], demo=demo)
    return counts


def person_phone(i: int) -> str:
    """The mobile number generated person ``i`` holds (distinct per person)."""
    return DEMO_PERSON_PHONE if i == 0 else f"15{i:09d}"


_UNIT_YEAR_LIST = tuple(UNIT_YEARS)


def _ss_no(i: int, id_number: str) -> str:
    return f"{id_number[:6]}{i:010d}"


def _handler_row(
    people: _People, unit: tuple[str, str, str, str], i: int
) -> tuple[str, str, str, str, str, str]:
    """The units.csv row of a unit whose 办税员 on record is person ``i``, one of its villagers."""
    id_number, name, _county = people.get(i)
    return (unit[0], unit[1], unit[3], id_number, name, person_phone(i))


def _write_identities(people: _People, persons: int, path: Path, *, demo: bool) -> None:
    """The identity simulator's registry: every person's ID number, name and phone, and for
    the demo's deceased person (继承人代办) the date of death HRSS knows."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(IDENTITIES_FILE[1]) + "\n")
        for i in range(persons):
            id_number, name, _county = people.get(i)
            died = DEMO_DECEASED_DEATH_DATE if demo and i == DEMO_DECEASED else ""
            fh.write(f"{id_number},{name},{person_phone(i)},{died}\n")


class _PersonFiles:
    """Pension payments, medical registrations and medical payments, one person at a time.

    These rows are written as plain text, about three times faster than csv.writer; every
    value comes from the fixed tables above or is digits, so none needs quoting. The random
    draws happen in a fixed order per person, so the files depend only on the seed.
    """

    def __init__(
        self,
        cal: _Calendar,
        rng_pension: random.Random,
        rng_medical: random.Random,
        files: dict[str, TextIO],
    ) -> None:
        self.pension_w = files["pension-payments"].write
        self.reg_w = files["medical-registrations"].write
        self.medpay_w = files["medical-payments"].write
        self.text = cal.text
        self.as_of = cal.as_of
        # int(random() * n) instead of randrange(n): several times faster, and just as
        # deterministic (the sizes here are tiny, so the float's bias does not matter).
        self.random_p = rng_pension.random
        self.random_m = rng_medical.random
        self.pension_n = self.reg_n = self.medpay_n = 0

        # Pension: per payment year, the first day, the number of days up to
        # min(31 Dec, as-of), and the month ends (as indices) not later than that.
        self.year_first: dict[int, int] = {}
        self.year_days: dict[int, int] = {}
        self.year_month_ends: dict[int, list[int]] = {}
        for y in PENSION_YEARS:
            first = cal.index(date(y, 1, 1))
            last = cal.clamp(cal.index(date(y, 12, 31)))
            self.year_first[y], self.year_days[y] = first, last - first + 1
            ends = [cal.index(date(y + (m == _DECEMBER), m % 12 + 1, 1)) - 1 for m in range(1, 13)]
            self.year_month_ends[y] = [e for e in ends if e <= last]
        self.years = tuple(PENSION_YEARS)
        self.pension_yuan = {a: f"{a}.00" for a in set(_PENSION_GRADES) | set(_BACK_AMOUNTS)}
        # Medical: collection window of insurance year Y = 1 Sept Y-1 .. end of Feb Y (as-of
        # cap).
        self.window: dict[int, tuple[int, int]] = {}
        for y in MEDICAL_YEARS:
            first = cal.index(date(y - 1, 9, 1))
            last = cal.clamp(cal.index(date(y, 3, 1)) - 1)
            self.window[y] = (first, last - first + 1)
        self.med_years = tuple(y for y in MEDICAL_YEARS if self.window[y][1] > 0)
        self.agencies_of = {c: _agencies(c) for c in COUNTIES}
        self.med_yuan = {f: _yuan(f) for f in _MEDICAL_FEN}

    def counts(self) -> dict[str, int]:
        return {
            "pension-payments": self.pension_n,
            "medical-registrations": self.reg_n,
            "medical-payments": self.medpay_n,
        }

    def _pension_row(
        self, person: tuple[str, str, str], amount: str, start: str, end: str, year: int,
        paid: str, channel: str, status: str,
    ) -> None:  # fmt: skip
        id_number, name, county = person
        self.pension_n += 1
        self.pension_w(
            f"PP{self.pension_n:010d},{id_number},{name},{county},{amount},{start},{end},"
            f"{year},{paid},{channel},{status}\n"
        )

    def demo_pensions(self, person: tuple[str, str, str]) -> None:
        for status, year, yuan, start, end, paid, channel in _DEMO_PENSION:
            self._pension_row(person, f"{yuan}.00", start, end, year, paid, channel, status)

    def pensions(self, person: tuple[str, str, str], k: int) -> None:
        """``k`` random pension payments of ``person``."""
        random_p, text = self.random_p, self.text
        years, year_first, year_days = self.years, self.year_first, self.year_days
        for _ in range(k):
            year = years[int(random_p() * len(years))]
            if random_p() < _SINGLE_YEAR_SHARE:
                amount = self.pension_yuan[_PENSION_GRADES[int(random_p() * len(_PENSION_GRADES))]]
                start, end = f"{year}-01-01", f"{year}-12-31"
                paid = text[year_first[year] + int(random_p() * year_days[year])]
            else:  # back payment over 1-4 years, ending on a month end of the year
                amount = self.pension_yuan[_BACK_AMOUNTS[int(random_p() * len(_BACK_AMOUNTS))]]
                ends = self.year_month_ends[year]
                end_idx = ends[int(random_p() * len(ends))]
                end = text[end_idx]
                start = f"{year - 1 - int(random_p() * 4)}{end[4:]}"
                if start.endswith("02-29"):
                    start = start[:-2] + "28"
                last = min(year_first[year] + year_days[year] - 1, self.as_of)
                paid = text[end_idx + int(random_p() * (last - end_idx + 1))]
            r = random_p()
            status = (
                "arrived"
                if r < _ARRIVED_BELOW
                else "not_arrived"
                if r < _NOT_ARRIVED_BELOW
                else "abnormal"
            )
            channel = PENSION_CHANNELS[int(random_p() * len(PENSION_CHANNELS))]
            self._pension_row(person, amount, start, end, year, paid, channel, status)

    def _registration(
        self, person: tuple[str, str, str], agency_code: str, agency_name: str
    ) -> str:
        id_number, name, county = person
        self.reg_n += 1
        reg_id = f"MR{self.reg_n:010d}"
        self.reg_w(
            f"{reg_id},{id_number},{name},{county},{agency_code},{agency_name},"
            f"{agency_code[1:7]}{self.reg_n:010d}\n"
        )
        return reg_id

    def _medical_payment(
        self, reg_id: str, year: int, fen: int, ltc: str, paid: str, channel: str
    ) -> None:
        self.medpay_n += 1
        n = self.medpay_n
        self.medpay_w(
            f"MP{n:010d},{reg_id},342{n:015d},{MEDICAL_ITEM},{self.med_yuan[fen]},{ltc},"
            f"{year}-01-01,{year}-12-31,{paid},{channel}\n"
        )

    def demo_medical(self, i: int, person: tuple[str, str, str]) -> None:
        for agency_code, agency_name, payments in _DEMO_MEDICAL.get(i, ()):
            reg_id = self._registration(person, agency_code, agency_name)
            for year, fen, ltc, paid, channel in payments:
                self._medical_payment(reg_id, year, fen, ltc, paid, channel)

    def medical(self, person: tuple[str, str, str]) -> None:
        """Maybe one or two registrations of ``person``, each with some payments."""
        random_m = self.random_m
        if random_m() >= MEDICAL_REGISTERED_SHARE:
            return
        pair = self.agencies_of[person[2]]
        first_agency = int(random_m() * 2)
        n_regs = 2 if random_m() < MEDICAL_SECOND_REGISTRATION_SHARE else 1
        for r_i in range(n_regs):
            agency_code, agency_name = pair[(first_agency + r_i) % 2]
            reg_id = self._registration(person, agency_code, agency_name)
            y0 = int(random_m() * len(self.med_years))
            for year in self.med_years[y0 : y0 + 1 + int(random_m() * 3)]:
                first, days = self.window[year]
                self._medical_payment(
                    reg_id,
                    year,
                    _MEDICAL_FEN[int(random_m() * len(_MEDICAL_FEN))],
                    _LTC[int(random_m() * len(_LTC))],
                    self.text[first + int(random_m() * days)],
                    MEDICAL_CHANNELS[int(random_m() * len(MEDICAL_CHANNELS))],
                )


def _write_person_files(
    people: _People,
    persons: int,
    first_random: int,
    spread: int | None,
    demo: bool,
    out: _PersonFiles,
) -> dict[str, array[int]]:
    """Every person's pension and medical rows; returns the person indices grouped by
    prefecture code (for the units)."""
    buckets: dict[str, array[int]] = {p: array("I") for p in PREFECTURES}
    bucket_of = {c: buckets[prefecture_of(c)] for c in COUNTIES}
    per_person = PAYMENTS_PER_PERSON
    random_p = out.random_p
    n_random = persons - first_random
    for i in range(persons):
        person = people.get(i)
        if not (demo and i == 1):  # the child demo person is no villager
            bucket_of[person[2]].append(i)
        if i < first_random:  # fixed rows (demo)
            if i == 0:
                out.demo_pensions(person)
            out.demo_medical(i, person)
            continue
        if spread is None:
            k = per_person[int(random_p() * len(per_person))]
        else:
            j = i - first_random
            k = (j + 1) * spread // n_random - j * spread // n_random
        out.pensions(person, k)
        out.medical(person)
    return buckets


def _write_unit_files(
    people: _People,
    persons: int,
    demo: bool,
    rng: random.Random,
    buckets: dict[str, array[int]],
    writers: dict[str, CsvWriter],
    counts: dict[str, int],
) -> None:
    """Village committees, their payments and the person lines of each payment."""
    unit_w = writers["unit-payments"].writerow
    line_w = writers["unit-payment-persons"].writerow
    if persons < 1:
        return
    n_units = max(1, persons // UNIT_EVERY_PERSONS)
    body_offset = rng.randrange(10**8)
    last_month_of = {y: 12 for y in UNIT_YEARS}
    last_month_of[DATA_AS_OF.year] = DATA_AS_OF.month
    everyone = range(persons)
    payment_n = 0
    line_n = 0

    def write_payment(
        unit: tuple[str, str, str, str],
        ptype: str,
        year: int,
        month: int,
        lines: list[tuple[int, int]],
        channel: str,
    ) -> None:
        """lines: [(person index, fen)]"""
        nonlocal payment_n, line_n
        tax_id, unit_name, unit_ss_no, region = unit
        payment_n += 1
        pid = f"UP{payment_n:09d}"
        total = sum(fen for _i, fen in lines)
        unit_w((
            pid, tax_id, unit_name, unit_ss_no, region, ptype, year, f"{month:02d}",
            _yuan(total), f"{year}-01-01", f"{year}-12-31", channel,
        ))  # fmt: skip
        for i, fen in lines:
            id_number, name, _county = people.get(i)
            line_n += 1
            line_w((pid, f"UL{line_n:010d}", id_number, name, _ss_no(i, id_number), _yuan(fen)))

    for u in range(n_units):
        if demo and u == 0:
            unit = (DEMO_UNIT_TAX_ID, DEMO_UNIT_NAME, DEMO_UNIT_SS_NO, DEMO_UNIT_REGION)
            for ptype, month, yuan, demo_members, channel in _DEMO_UNIT_PAYMENTS:
                lines = [(i, yuan * 100) for i in demo_members]
                write_payment(unit, ptype, _DEMO_YEAR, month, lines, channel)
            writers["units"].writerow(_handler_row(people, unit, DEMO_UNIT_HANDLER))
            continue
        # A unit sits where one of its villagers lives.
        county = people.get(rng.randrange(persons))[2]
        unit_name = (
            f"{COUNTIES[county]}{_TOWNS[rng.randrange(len(_TOWNS))]}镇"
            f"{_VILLAGES[rng.randrange(len(_VILLAGES))]}村村民委员会"
        )
        body = f"{(u * 7919 + body_offset) % 10**8:08d}"  # a bijection: distinct per unit
        unit = (_unit_tax_id(county, body), unit_name, f"{county}{u + 1:06d}", county)
        bucket = buckets[prefecture_of(county)]
        pool: Sequence[int] = bucket if len(bucket) >= _MIN_LINES else everyone
        n_payments = rng.randint(1, 4)
        if u == 0:
            n_payments = max(n_payments, len(_UNIT_TYPES))
        for _ in range(n_payments):
            # The first three payments of a file cover the three types.
            ptype = (
                _UNIT_TYPES[payment_n] if payment_n < len(_UNIT_TYPES) else rng.choice(_UNIT_TYPES)
            )
            year = _UNIT_YEAR_LIST[rng.randrange(len(_UNIT_YEAR_LIST))]
            month = rng.randint(1, last_month_of[year])
            grades = _UNIT_GRADES[ptype]
            grade = rng.choice(grades)
            k = min(rng.randint(_MIN_LINES, _MAX_LINES), len(pool))
            members = sorted(rng.sample(pool, k))
            lines = [
                (i, (grade if rng.random() < _SAME_GRADE_SHARE else rng.choice(grades)) * 100)
                for i in members
            ]
            write_payment(unit, ptype, year, month, lines, rng.choice(DECLARATION_CHANNELS))
        writers["units"].writerow(_handler_row(people, unit, members[0]))

    counts["units"] = n_units
    counts["unit-payments"] = payment_n
    counts["unit-payment-persons"] = line_n
