"""Personal data rules shared by every layer: masks, the pseudonym key, and redaction of
free text (quarantine rows, error messages, logs) so a clear ID number or phone never leaves
the source file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path

from gongzhi.errors import ConfigError, Problem

KEY_ENV = "GONGZHI_PSEUDONYM_KEY"
KEY_FILE_ENV = "GONGZHI_PSEUDONYM_KEY_FILE"

# 18-character resident ID numbers (GB 11643) and mainland mobile numbers inside any text.
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(\d{3})\d{11}(\d{3}[\dXx])(?![0-9A-Za-z])")
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_PERSONAL_HEADERS = re.compile(r"(身份证|证件号|手机|电话|联系方式|姓名|名字|联系人|"
                               r"id_?number|id_?card|phone|mobile|tel|^name$|full_?name)",
                               re.IGNORECASE)


def pseudonym_key(key_file: Path | None = None) -> bytes:
    """The HMAC key for pseudonyms: ``GONGZHI_PSEUDONYM_KEY``, else the file named by
    ``GONGZHI_PSEUDONYM_KEY_FILE``, else ``key_file`` (the config's ``[privacy] key_file``)."""
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
    """``张三`` → ``张*``, ``欧阳娜娜`` → ``欧***``: the family name's first character only."""
    value = value.strip()
    return value[:1] + "*" * max(len(value) - 1, 1) if value else value


def redact(text: str) -> str:
    """Free text with every ID number and mobile number masked."""
    text = _ID_IN_TEXT.sub(lambda m: f"{m.group(1)}***********{m.group(2)}", text)
    return _MOBILE_IN_TEXT.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)


def personal_header(header: str) -> bool:
    """Whether a source column's header says it holds personal data (姓名, 身份证号 …)."""
    return bool(_PERSONAL_HEADERS.search(header.strip()))
