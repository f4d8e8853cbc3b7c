"""GCJ-02 ↔ WGS84 against the published eviltransform test vectors (Shanghai, Shenzhen,
Beijing) and the rule that points outside China carry no offset."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.plugins.gcj02 import gcj02_to_wgs84, wgs84_to_gcj02

# (wgs lat, wgs lon, gcj lat, gcj lon): googollee/eviltransform's fixtures
VECTORS = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),
]


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), VECTORS)
def test_forward_matches_published_vectors(wlat: float, wlon: float, glat: float,
                                           glon: float) -> None:
    lon, lat = wgs84_to_gcj02(np.array([wlon]), np.array([wlat]))
    assert abs(lon[0] - glon) < 1e-9 and abs(lat[0] - glat) < 1e-9


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), VECTORS)
def test_inverse_recovers_wgs84_to_a_millimetre(wlat: float, wlon: float, glat: float,
                                                glon: float) -> None:
    lon, lat = gcj02_to_wgs84(np.array([glon]), np.array([glat]))
    # 1e-8 degrees is about a millimetre; the one-step inverse is off by metres
    assert abs(lon[0] - wlon) < 1e-8 and abs(lat[0] - wlat) < 1e-8


def test_inverse_on_many_points_round_trips() -> None:
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(111.7, 112.2, 500), rng.uniform(32.0, 32.3, 500)  # 樊城区
    glon, glat = wgs84_to_gcj02(lon, lat)
    offset_m = np.hypot((glon - lon) * 94_000, (glat - lat) * 111_000)
    assert offset_m.min() > 100  # the offset is real there (hundreds of metres)
    back_lon, back_lat = gcj02_to_wgs84(glon, glat)
    assert np.abs(back_lon - lon).max() < 1e-8 and np.abs(back_lat - lat).max() < 1e-8


def test_outside_china_is_unchanged() -> None:
    lon, lat = np.array([-104.9903, 153.0251]), np.array([39.7392, -27.4698])  # Denver, Brisbane
    for f in (wgs84_to_gcj02, gcj02_to_wgs84):
        out_lon, out_lat = f(lon, lat)
        assert np.array_equal(out_lon, lon) and np.array_equal(out_lat, lat)
