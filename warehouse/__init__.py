"""The warehouse: tables (``schema`` and the domain modules of ``tables``), engines, loads."""

from warehouse import tables as _tables  # noqa: F401  (registers the domain tables)
