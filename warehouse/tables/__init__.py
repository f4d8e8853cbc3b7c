"""Tables of the later domains, one module each, on :data:`warehouse.schema.metadata`.

Every module in this package is imported with the ``warehouse`` package, so a new domain's
tables exist (for ``create_all``, the ingest contract and the semantic layer) without an edit
anywhere else. A module declares its tables with the helpers of :mod:`warehouse.schema`.
"""

from __future__ import annotations

import importlib
import pkgutil

for _mod in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_mod.name}")
