"""Personal data rules shared by every layer: masks, the pseudonym key and its fingerprint,
and the one redaction step that every value leaving ingestion passes (free-text columns,
quarantine rows, error messages, logs, CLI output), so a clear ID, phone or card number never
leaves the source file.

What :func:`redact` covers, in any text:

- resident ID numbers: 18 characters (17 digits + digit or X) and the old 15-digit ones, any
  check digit, also written in 6-8-4 groups with spaces or hyphens;
- bank-card-like numbers: 16-19 digits, plain or in groups of four (Luhn valid or not);
- mainland mobile numbers: ``13800138000``, ``138-0013-8000``, ``138 0013 8000``, with
  ``+86`` / ``0086`` / ``86`` / ``(+86)`` in front;
- landlines with an area code: ``0710-1234567``, ``(0710)1234567``, ``（0710）1234567``,
  ``0710 1234567``, ``07101234567``, with an extension (``-123``, ``转123``);
- numbers stand on their own: digits inside a run of ASCII letters and digits (a hex id
  ``4fd3b167e750846744000005``, a file name) are left as they are; only a mobile number may
  follow letters (``tel13800138000``);
- personal names after a label that says a name follows (``姓名：张三``, ``联系人 李四``,
  ``投诉人:王五``; the labels in :data:`NAME_LABELS` plus ``[privacy] name_labels``): the
  family name's first character stays (``张*``).

Not covered: names without such a label (``张三反映…``; no reliable way to tell a name from
other words in free text), 7-8 digit local numbers without an area code (they look like any
other number), addresses, and numbers split in other ways than the ones above.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import ConfigError, Problem

KEY_ENV = "GONGZHI_PSEUDONYM_KEY"
KEY_FILE_ENV = "GONGZHI_PSEUDONYM_KEY_FILE"

# A number inside a longer run of ASCII letters and digits is part of an identifier (a hex id,
# a file name), not a number of its own: "4fd3b167e750846744000005" keeps its digits.
_NOT_DIGIT_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_DIGIT_AFTER = r"(?![0-9A-Za-z])"
# Order matters: the longest shapes first, so a card number is not half-masked as a phone.
_ID18 = re.compile(_NOT_DIGIT_BEFORE + r"(\d{6})[ -]?(\d{8})[ -]?(\d{3}[\dXx])"
                   + _NOT_DIGIT_AFTER)
_CARD = re.compile(_NOT_DIGIT_BEFORE + r"(\d{4}(?:[ -]?\d{4}){3}(?:[ -]?\d{1,3})?)"
                   + _NOT_DIGIT_AFTER)
_ID15 = re.compile(_NOT_DIGIT_BEFORE + r"(\d{15})" + _NOT_DIGIT_AFTER)
_MOBILE = re.compile(  # a label may touch it: "tel13800138000"
    r"(?<![0-9])(?:(?:\+|＋|00)?86[ -]?|[(（]\+?86[)）] ?)?"
    + r"(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})" + _NOT_DIGIT_AFTER)
_LANDLINE = re.compile(
    _NOT_DIGIT_BEFORE + r"[(（]?(0\d{2,3})[)）]?[ -]?(\d{3,4})(\d{4})(?:(?:-|转|ext\.?)\d{1,6})?"
    + _NOT_DIGIT_AFTER)
_PERSONAL_HEADERS = re.compile(r"(身份证|证件号|手机|电话|联系方式|姓名|名字|联系人|"
                               r"id_?number|id_?card|phone|mobile|tel|^name$|full_?name)",
                               re.IGNORECASE)

# Labels after which a person's name follows in free text (a colon or a space in between).
NAME_LABELS: tuple[str, ...] = (
    "姓名", "名字", "联系人", "报告人", "反映人", "投诉人", "举报人", "来电人", "申请人",
    "当事人", "户主", "经办人", "求助人", "被投诉人", "监护人", "报修人", "受助人",
)
_NAME = r"([\u4e00-\u9fff][\u4e00-\u9fff·]{1,3})"
_lock = threading.Lock()
_extra_labels: tuple[str, ...] = ()
_name_re: re.Pattern[str] | None = None
_key_override: bytes | None = None


def configure(name_labels: Iterable[str] = ()) -> None:
    """Add the installation's own name labels (``[privacy] name_labels``) to the built-in ones."""
    global _extra_labels, _name_re
    with _lock:
        _extra_labels = tuple(sorted({str(x).strip() for x in name_labels if str(x).strip()}))
        _name_re = None


def _names() -> re.Pattern[str]:
    global _name_re
    with _lock:
        if _name_re is None:
            labels = sorted(set(NAME_LABELS) | set(_extra_labels), key=len, reverse=True)
            alt = "|".join(re.escape(x) for x in labels)
            _name_re = re.compile(rf"({alt})(\s*[:：]\s*|\s+){_NAME}")
        return _name_re


def candidate_pattern() -> str:
    """A cheap test (a regex without look-arounds, for vectorised engines) that a text might
    hold something :func:`redact` masks: every shape above has 7 digits in a row, or digit
    groups split by a space or hyphen, or a name label followed by a Chinese character."""
    labels = sorted(set(NAME_LABELS) | set(_extra_labels), key=len, reverse=True)
    alt = "|".join(re.escape(x) for x in labels)
    return rf"\d{{7}}|\d{{3,4}}[ -]\d{{4}}|(?:{alt})(?:\s*[:：]\s*|\s+)[\u4e00-\u9fff]"


def pseudonym_key(key_file: Path | None = None) -> bytes:
    """The HMAC key for pseudonyms: ``GONGZHI_PSEUDONYM_KEY``, else the file named by
    ``GONGZHI_PSEUDONYM_KEY_FILE``, else ``key_file`` (the config's ``[privacy] key_file``).
    Inside :func:`using_key` (``gongzhi demo``), the key given there."""
    if _key_override is not None:
        return _key_override
    value = os.environ.get(KEY_ENV)
    file_name = os.environ.get(KEY_FILE_ENV) or (str(key_file) if key_file else None)
    if not value and file_name:
        path = Path(file_name)
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ConfigError([Problem(KEY_FILE_ENV, f"cannot read {path}: {e}")]) from None
    if not value or len(value) < 16:
        raise ConfigError([Problem(KEY_ENV, "a source holds ID numbers: set the pseudonym key "
                                            f"(at least 16 characters) in {KEY_ENV}, in a file "
                                            f"named by {KEY_FILE_ENV}, or in the file named "
                                            "by [privacy] key_file")])
    return value.encode("utf-8")


@contextmanager
def using_key(key: bytes) -> Iterator[None]:
    """Pseudonymise with ``key`` inside the block, whatever the environment says (the demo
    ingests with the key it wrote beside its config, and no other)."""
    global _key_override
    previous, _key_override = _key_override, key
    try:
        yield
    finally:
        _key_override = previous


def key_fingerprint(key: bytes) -> str:
    """A short public name for a key: an HMAC of a fixed text under the key. It tells two keys
    apart without revealing either (keys are at least 16 characters)."""
    return hmac.new(key, b"gongzhi pseudonym key fingerprint v1", hashlib.sha256).hexdigest()[:16]


def pseudonym(value: str, key: bytes) -> str:
    """Keyed hash (HMAC-SHA256, hex) of a normalised identifier: stable, not reversible."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def mask_id(value: str) -> str:
    """``420606199001011234`` → ``420***********1234`` (first 3 and last 4 kept)."""
    return value[:3] + "*" * max(len(value) - 7, 0) + value[-4:] if len(value) > 7 else "*" * 7


def mask_phone(value: str) -> str:
    """``13812348000`` → ``138****8000``."""
    if len(value) >= 11:
        return value[:3] + "****" + value[-4:]
    return value[:2] + "*" * max(len(value) - 4, 1) + value[-2:] if len(value) > 4 else "****"


def mask_name(value: str) -> str:
    """``张三`` → ``张*``, ``欧阳娜娜`` → ``欧***``: the family name's first character only
    (at most 8 stars: the length of a long name says little, and columns have a maximum)."""
    value = value.strip()
    return value[:1] + "*" * min(max(len(value) - 1, 1), 8) if value else value


def _mask_digits(digits: str, keep_start: int, keep_end: int) -> str:
    return digits[:keep_start] + "*" * (len(digits) - keep_start - keep_end) + digits[-keep_end:]


def redact(text: str) -> str:
    """``text`` with every personal number and labelled name masked (see the module docstring).
    Idempotent: masked text stays as it is."""
    if not text:
        return text
    if any(c.isdigit() for c in text):
        text = _ID18.sub(lambda m: _mask_digits("".join(m.groups()), 3, 4), text)
        text = _CARD.sub(lambda m: _mask_digits(re.sub(r"\D", "", m.group(1)), 4, 4), text)
        text = _ID15.sub(lambda m: _mask_digits(m.group(1), 3, 4), text)
        text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
        text = _LANDLINE.sub(lambda m: f"{m.group(1)}-****{m.group(3)[-3:]}", text)
    if any("\u4e00" <= c <= "\u9fff" for c in text):
        text = _names().sub(lambda m: m.group(1) + m.group(2) + mask_name(m.group(3)), text)
    return text


def personal_header(header: str) -> bool:
    """Whether a source column's header says it holds personal data (姓名, 身份证号 …)."""
    return bool(_PERSONAL_HEADERS.search(header.strip()))
