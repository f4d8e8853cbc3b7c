"""The demo's shape check: a demo writer whose source feeds a table outside the semantic layer,
or maps a header to a column its table lacks, fails ``gongzhi demo`` with every problem."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from gongzhi.demo import _check_shapes
from gongzhi.demo.common import SourceEntry


def test_a_demo_source_that_does_not_fit_the_warehouse_is_refused() -> None:
    good = SourceEntry("ok", "files", "hotline_requests", {"path": "x/*.csv"},
                       columns={"工单编号": "request_id"})
    _check_shapes([good])  # fits: no error
    bad = [SourceEntry("a", "files", "hotline_requestz", {"path": "a/*.csv"}),
           SourceEntry("b", "files", "hotline_requests", {"path": "b/*.csv"},
                       columns={"工单编号": "request_id", "诉求人": "requester"},
                       defaults={"priority": "high"})]
    with pytest.raises(ConfigError) as e:
        _check_shapes([good, *bad])
    msg = str(e.value)
    assert "demo source a: table 'hotline_requestz' is not in the warehouse's semantic layer" \
        in msg
    assert "'诉求人' maps to 'requester', not a column of hotline_requests" in msg
    assert "'priority' maps to 'priority', not a column of hotline_requests" in msg
    assert len(e.value.problems) == 3
