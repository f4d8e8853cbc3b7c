"""A plugin whose import fails, as a third-party package with a missing dependency would."""

import gongzhi_no_such_dependency  # noqa: F401
