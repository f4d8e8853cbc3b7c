"""Made-up personal data of the shape real registers hold: Chinese names, 18-digit resident ID
numbers with valid GB 11643 check digits and birth dates, 11-digit mobile numbers.

The demo writes them on purpose: source systems do export them, and the product must handle
them (DESIGN §6). None of them belongs to a real person except by coincidence.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董"
            "袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱"
            "江尹薛闫段雷侯龙史黎")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文辉鹏飞燕宇浩俊志云凤梅"
         "婷雪琴慧颖晨欣怡思佳子涵博轩睿诚鑫宁波海峰林松柏春秋冬梦琳瑶悦彤嘉乐安康德福荣贵")
# Resident ID region codes: mostly 樊城区, then the rest of 襄阳 (birthplace, not residence).
REGIONS = ("420606", "420602", "420607", "420624", "420625", "420682", "420683", "420684")
REGION_P = (0.62, 0.08, 0.09, 0.04, 0.04, 0.05, 0.05, 0.03)
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = "10X98765432"
MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151",
                   "152", "155", "156", "157", "158", "159", "166", "176", "177", "180", "181",
                   "182", "183", "186", "187", "188", "189", "191", "199")


def names(rng: np.random.Generator, n: int) -> pl.Series:
    """Two- and three-character names."""
    sur = np.array(list(SURNAMES))[rng.integers(0, len(SURNAMES), n)]
    given = np.array(list(GIVEN))
    g1 = given[rng.integers(0, len(GIVEN), n)]
    g2 = np.where(rng.random(n) < 0.7, given[rng.integers(0, len(GIVEN), n)], "")
    return pl.Series(np.char.add(np.char.add(sur, g1), g2), dtype=pl.String)


def check_digits(body17: np.ndarray) -> np.ndarray:
    """GB 11643 check characters for rows of 17 digits (an int array of shape n × 17)."""
    return np.array(list(ID_CHECK))[(body17 @ ID_WEIGHTS) % 11]


def birth_dates(rng: np.random.Generator, n: int, born_from: dt.date,
                born_to: dt.date) -> np.ndarray:
    """Birth dates (numpy ``datetime64[D]``) spread evenly over the range."""
    span = (born_to - born_from).days
    return np.datetime64(born_from, "D") + rng.integers(0, span + 1, n).astype("timedelta64[D]")


def id_numbers(rng: np.random.Generator, born: np.ndarray, male: np.ndarray) -> pl.Series:
    """18-digit resident ID numbers: region, birth date, sequence (odd for men), check digit."""
    n = len(born)
    region = np.array(REGIONS)[rng.choice(len(REGIONS), n, p=np.array(REGION_P))]
    birth = pl.Series(born).dt.strftime("%Y%m%d").to_numpy().astype(str)
    seq = rng.integers(0, 500, n) * 2 + np.where(male, 1, 0)
    body = np.char.add(np.char.add(region, birth), np.char.zfill(seq.astype(str), 3))
    digits = np.frombuffer("".join(body).encode("ascii"), dtype=np.uint8).reshape(n, 17) - 48
    return pl.Series(np.char.add(body, check_digits(digits.astype(np.int64))), dtype=pl.String)


def id_valid(ids: pl.Series) -> np.ndarray:
    """Whether each ID number's check character is right (for tests: ingestion checks ID
    numbers itself, in ingest/normalize/personal.py, and quarantines broken ones)."""
    arr = ids.to_numpy().astype(str)
    body = np.char.upper(arr)
    digits = np.frombuffer("".join(s[:17] for s in body).encode("ascii"),
                           dtype=np.uint8).reshape(len(arr), 17) - 48
    want = check_digits(digits.astype(np.int64))
    return np.array([s[17] for s in body]) == want


def break_check_digit(id_number: str) -> str:
    """The same ID number with a wrong check character (a typing slip)."""
    wrong = [c for c in ID_CHECK if c != id_number[17]]
    return id_number[:17] + wrong[0]


def mobiles(rng: np.random.Generator, n: int) -> pl.Series:
    prefix = np.array(MOBILE_PREFIXES)[rng.integers(0, len(MOBILE_PREFIXES), n)]
    rest = np.char.zfill(rng.integers(0, 100_000_000, n).astype(str), 8)
    return pl.Series(np.char.add(prefix, rest), dtype=pl.String)
