"""Value parsing: the spellings of dates, numbers, yes/no and codes that sources really use."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from ingest.normalize import values as v


def s(*items: object) -> pl.Series:
    return v.clean_strings(pl.Series([None if i is None else str(i) for i in items],
                                     dtype=pl.String))


@pytest.mark.parametrize("text, expected_local", [
    ("2023-08-14 09:30:00", dt.datetime(2023, 8, 14, 9, 30)),
    ("2023-08-14 09:30:00.250", dt.datetime(2023, 8, 14, 9, 30, 0, 250000)),
    ("2023-08-14T09:30:00", dt.datetime(2023, 8, 14, 9, 30)),
    ("2023-8-4 9:05", dt.datetime(2023, 8, 4, 9, 5)),
    ("2023/08/14 09:30", dt.datetime(2023, 8, 14, 9, 30)),
    ("2023年8月14日", dt.datetime(2023, 8, 14)),
    ("2023年8月14日 9时5分", dt.datetime(2023, 8, 14, 9, 5)),
    ("２０２３年８月１４日", dt.datetime(2023, 8, 14)),
    ("2023.8.14", dt.datetime(2023, 8, 14)),
    ("20230814", dt.datetime(2023, 8, 14)),
    ("2023-08-14T01:30:00Z", dt.datetime(2023, 8, 14, 9, 30)),
    ("2023-08-14T09:30:00+08:00", dt.datetime(2023, 8, 14, 9, 30)),
    ("2023-08-13T20:30:00-05:00", dt.datetime(2023, 8, 14, 9, 30)),
])
def test_datetimes_are_read_as_shanghai_time_and_stored_in_utc(text: str,
                                                               expected_local: dt.datetime) -> None:
    out = v.parse_datetime(s(text))[0]
    assert out == expected_local - dt.timedelta(hours=8)


def test_unreadable_dates_are_null_not_guessed() -> None:
    out = v.parse_datetime(s("2023-02-30", "garbage", "2023-13-45", None)).to_list()
    assert out == [None, None, None, None]


def test_dates_are_not_shifted() -> None:
    assert v.parse_date(s("2023年8月14日", "45152", "2023.8.14"), serials=True).to_list() == [
        dt.date(2023, 8, 14)] * 3


def test_excel_serials_only_where_allowed_and_only_plausible_ones() -> None:
    # In text a bare number is not a date (2023 was read as 1905-07-14, 1 as 1899-12-30)
    bare = s("2023", "1", "99999", "45152", "45152.5")
    assert v.parse_datetime(bare).to_list() == [None] * 5
    assert v.parse_date(bare).to_list() == [None] * 5
    # XLSX cells (serials=True) or a declared column: serials inside 1950 … 2099 only
    out = v.parse_datetime(bare, serials=True).to_list()
    assert out[:3] == [None, None, None]
    assert out[3:] == [dt.datetime(2023, 8, 13, 16), dt.datetime(2023, 8, 14, 4)]
    assert v.parse_date(bare, fmt=v.EXCEL_SERIAL).to_list()[3] == dt.date(2023, 8, 14)
    edges = s("1950-01-01", "18264", "73050", "73051", "18263")
    assert v.parse_date(edges, serials=True).to_list() == [
        dt.date(1950, 1, 1), dt.date(1950, 1, 1), dt.date(2099, 12, 31), None, None]


def test_a_declared_format_is_the_only_one_tried() -> None:
    out = v.parse_datetime(s("08/14/2023 09:30 PM", "2023-08-14 21:30:00"),
                           fmt="%m/%d/%Y %I:%M %p").to_list()
    assert out == [dt.datetime(2023, 8, 14, 13, 30), None]


def test_numbers_fullwidth_separators_and_integers() -> None:
    assert v.parse_number(s("１２", "1,234", "3.0", "3.5", "abc"), integer=True).to_list() == [
        12, 1234, 3, None, None]
    assert v.parse_number(s("2.5", "１.５"), integer=False).to_list() == [2.5, 1.5]
    # not quantities: a range check cannot catch NaN, and PostgreSQL would store Infinity
    assert v.parse_number(s("nan", "inf", "-Infinity", "NaN"), integer=False).to_list() == [
        None] * 4


def test_a_comma_groups_thousands_only_in_valid_groups() -> None:
    # "1,5" hours loaded as 15: a comma that does not group digits in threes is not a number
    got = v.parse_number(s("1,5", "1,234", "12,345,678.5", "1,2345", ",5", "1,23", "-1,234",
                           "１，２３４"), integer=False).to_list()
    assert got == [None, 1234.0, 12345678.5, None, None, None, -1234.0, 1234.0]
    assert v.parse_number(s("1,5", "1,000"), integer=True).to_list() == [None, 1000]


def test_a_declared_decimal_comma() -> None:
    got = v.parse_number(s("1,5", "1.234,5", "1 234,5", "1.234", "12", "1.5", "1.23.4"),
                         integer=False, decimal_comma=True).to_list()
    assert got == [1.5, 1234.5, 1234.5, 1234.0, 12.0, None, None]


def test_ratings_accept_the_words_of_好差评() -> None:
    words = s("非常满意", "满意", "基本满意", "不满意", "非常不满意", "5")
    assert v.parse_rating(words).to_list() == [5, 4, 3, 2, 1, 5]


def test_booleans() -> None:
    assert v.parse_bool(s("是", "否", "TRUE", "0", "Y", "已整改", "maybe")).to_list() == [
        True, False, True, False, True, True, None]


def test_enums_map_chinese_words_and_case() -> None:
    out = v.parse_enum(s("网上办", "ONLINE", "窗口", "帮办代办", "飞鸽传书"),
                       ("online", "window", "help_desk"),
                       {"网上办": "online", "窗口": "window", "帮办代办": "help_desk"})
    assert out.to_list() == ["online", "online", "window", "help_desk", None]


def test_clean_strings_trims_fullwidth_spaces_and_boms() -> None:
    assert s("\ufeff A1\u3000", "  ", "").to_list() == ["A1", None, None]


def test_halfwidth_folds_codes() -> None:
    assert v.halfwidth(pl.Series(["４２０６０６ＡＢ"])).to_list() == ["420606AB"]
