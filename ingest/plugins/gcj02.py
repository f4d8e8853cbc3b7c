"""GCJ-02 (the offset coordinates of Chinese web maps: AMap/高德, Tencent) to WGS84 and back.

GCJ-02 is WGS84 plus a published, non-invertible-in-closed-form offset of a few hundred
metres. :func:`wgs84_to_gcj02` is the standard forward formula; :func:`gcj02_to_wgs84` inverts
it by fixed-point iteration (w ← w − (f(w) − g)), which converges to well under a millimetre
in a few steps because the offset changes slowly. Points outside China carry no offset.
Arrays of longitudes and latitudes (numpy) go in and come out, so a whole ring converts at once.
"""

from __future__ import annotations

import numpy as np

A = 6378245.0  # the Krasovsky 1940 semi-major axis the formula uses
EE = 0.00669342162296594323  # its eccentricity squared
TOLERANCE_DEG = 1e-10  # ≈ 0.01 mm: where the inverse iteration stops
MAX_STEPS = 30


def out_of_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The published rectangle outside which GCJ-02 equals WGS84."""
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _offsets(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    pi = np.pi
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
            + common
            + (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
            + common
            + (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0)
    rad = lat / 180.0 * pi
    magic = 1 - EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((A * (1 - EE)) / (magic * sqrt_magic) * pi)
    dlon = dlon * 180.0 / (A / sqrt_magic * np.cos(rad) * pi)
    outside = out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 → GCJ-02 (the forward formula)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _offsets(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → WGS84: the forward formula inverted by iteration to :data:`TOLERANCE_DEG`."""
    glon, glat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(MAX_STEPS):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = flon - glon, flat - glat
        wlon, wlat = wlon - elon, wlat - elat
        if np.all(np.abs(elon) < TOLERANCE_DEG) and np.all(np.abs(elat) < TOLERANCE_DEG):
            break
    return wlon, wlat
