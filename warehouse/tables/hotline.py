"""12345 政务服务便民热线 / 接诉即办: one row per request (工单), DESIGN §3.

A request is received, dispatched (派单) to a unit, the unit contacts the requester (响应),
handles and closes it (办结); at the call-back (回访) the requester says whether it was solved
(解决) and how satisfied they are (满意 3 / 基本满意 2 / 不满意 1). The area is optional: many
exports (问政 platforms, 311 feeds) carry no community; such rows count for the district only.
A row may name its grid instead of (or beside) its community; it counts in the grid's
community: the table's area level stays community.
``title`` and ``content`` are free text: ID and mobile numbers inside are masked before storage.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String

from warehouse.schema import FACT, _code, _lonlat, _table

HOTLINE_CHANNELS = ("phone", "web", "app", "wechat", "other")

hotline_requests = _table(
    "hotline_requests",
    FACT,
    Column("request_id", String(64), primary_key=True),  # 工单编号 / 留言编号
    _code("community_code", "community", required=False),
    # or the grid (as grid events are filed): the community is then the grid's (``fills``);
    # with both, the grid must lie in the community (``under``), else the row is quarantined
    # (outside_area). Rows keep community_code as their area either way (migration 11).
    Column("grid_code", String(32), info={"ref": "grid", "under": "community_code",
                                          "fills": "community_code"}),
    Column("category", String(128)),  # free text or a code of the national classification
    Column("channel", String(16), nullable=False, info={
        "enum": HOTLINE_CHANNELS, "default": "other", "synonyms": {
            "电话": "phone", "热线": "phone", "12345": "phone", "12345热线": "phone",
            "来电": "phone", "市长热线": "phone", "网站": "web", "网络": "web", "网上": "web",
            "留言板": "web", "门户网站": "web", "政府网站": "web", "互联网": "web",
            "客户端": "app", "手机app": "app", "移动端": "app", "微信": "wechat",
            "微信公众号": "wechat", "小程序": "wechat", "微信小程序": "wechat",
            "其他": "other", "其它": "other", "phone call": "phone", "online": "web",
            "mobile": "app", "mobile app": "app", "unknown": "other", "未知": "other"}}),
    Column("received_at", DateTime, nullable=False),
    Column("dispatched_at", DateTime),
    Column("responded_at", DateTime),  # first contact with the requester
    Column("resolved_at", DateTime),
    Column("closed_at", DateTime),
    Column("deadline_at", DateTime),
    # the requester says it was solved; NULL: not judged
    Column("resolved", Boolean, info={"words": {
        "已解决": True, "解决": True, "未解决": False, "部分解决": False}}),
    Column("satisfaction", Integer, info={"range": (1, 3), "words": {
        "满意": 3, "非常满意": 3, "基本满意": 2, "一般": 2, "不满意": 1, "非常不满意": 1}}),
    Column("reopened", Boolean, nullable=False, info={"default": False}),  # 退单 / 重办
    Column("title", String(500)),
    Column("content", String(8000)),
    *_lonlat(),  # where the request is about, when the export has it (migration 8)
    Index("ix_hotline_requests_received", "received_at"),
    area="community_code",
)
