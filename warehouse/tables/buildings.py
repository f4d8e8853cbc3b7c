"""楼栋: the building register of the grid system, the fifth level of 五级双线 (DESIGN §3).

A building's code is its grid's 15 digits plus 3 (:mod:`core.divisions`, level ``building``);
``grid_code`` names the grid it lies in, which must exist in the division list, and the code
must start with it. ``households`` is the number of households living there (a village grid
lists its 村民小组 / house groups the same way). Building heads (楼栋长 / 单元长) are rows of
``grid_staff`` with role ``building_head`` and the ``building_code`` they look after; the
register declares ``registry="building"``, so those codes are checked against it the way a
grid code is checked against the division list.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String

from warehouse.schema import DIMENSION, _code, _table

BUILDING_CODE = r"^\d{18}$"

buildings = _table(
    "buildings",
    DIMENSION,
    # the code must lie in the row's grid (``under``): its first 15 digits are grid_code
    Column("building_code", String(32), primary_key=True,
           info={"pattern": BUILDING_CODE, "under": "grid_code"}),
    _code("grid_code", "grid"),
    Column("name", String(128)),  # 3栋, 幸福小区2号楼, 王家湾组
    Column("households", Integer, nullable=False, info={"range": (0, 5000)}),
    Index("ix_buildings_grid", "grid_code"),
    area="grid_code",
    registry="building",
)
