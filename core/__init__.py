"""The bottom layer of Gongzhi: facts every other layer shares, imported by all, importing
none of them (import-linter checks it, see docs/architecture.md).

- :mod:`core.errors`: the error classes (retryable or not, by class);
- :mod:`core.settings`: ``gongzhi.toml`` as typed sections, validated in one pass;
- :mod:`core.timezone`: the local time zone and the UTC offset of stored timestamps;
- :mod:`core.divisions`: the district → street → community → grid hierarchy and its codes;
- :mod:`core.roles`: the dashboard's roles and the level each one sees;
- :mod:`core.reasons`: the quarantine reason codes;
- :mod:`core.privacy`: masks, pseudonyms and redaction;
- :mod:`core.cron`: cron schedules (the one validation), :mod:`core.cronwords` (in words);
- :mod:`core.spreadsheet`: the formula guard of every CSV/XLSX written.
"""
