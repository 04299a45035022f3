"""Redis 7.0's geohash arithmetic, float for float, so GEO scores and replies match.

Every step follows Redis's own order of IEEE operations (src/geohash.c,
src/geohash_helper.c): the 52-bit score, the decoded cell centre, the 3x3 search cells
and the haversine distance come out bit-identical, and Python's `math` calls the same
libm as redis-server on this machine. Latitude bits sit in the even positions of a
score, longitude bits in the odd ones.
"""

from __future__ import annotations

import math

STEP_MAX = 26                  # 26 bits per axis, 52-bit scores
LAT_MIN = -85.05112878         # Web Mercator's limits: no poles
LAT_MAX = 85.05112878
LON_MIN = -180.0
LON_MAX = 180.0
EARTH_RADIUS_M = 6372797.560856
MERCATOR_MAX = 20037726.37
_D_R = math.pi / 180.0
_M64 = (1 << 64) - 1
_EVEN = 0x5555555555555555
_ODD = 0xAAAAAAAAAAAAAAAA
_TWO63 = 9223372036854775808.0
_LAT_SCALE = LAT_MAX - LAT_MIN
_LON_SCALE = LON_MAX - LON_MIN
_DIV26 = float(1 << STEP_MAX)

#: a cell is (bits, step); Redis's "zeroed" neighbour is NONE
NONE = (0, 0)

#: metres per unit (divide metres by it)
UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}


# -- bit interleaving ----------------------------------------------------------------------

def _spread(v: int) -> int:
    """32 bits -> the even bit positions of 64."""
    v = (v | (v << 16)) & 0x0000FFFF0000FFFF
    v = (v | (v << 8)) & 0x00FF00FF00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v << 2)) & 0x3333333333333333
    return (v | (v << 1)) & _EVEN


def _squeeze(v: int) -> int:
    """The even bit positions of 64 -> 32 bits."""
    v &= _EVEN
    v = (v | (v >> 1)) & 0x3333333333333333
    v = (v | (v >> 2)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v >> 4)) & 0x00FF00FF00FF00FF
    v = (v | (v >> 8)) & 0x0000FFFF0000FFFF
    return (v | (v >> 16)) & 0x00000000FFFFFFFF


def interleave(lat_cell: int, lon_cell: int) -> int:
    return _spread(lat_cell & 0xFFFFFFFF) | (_spread(lon_cell & 0xFFFFFFFF) << 1)


def deinterleave(bits: int) -> tuple[int, int]:
    """-> (latitude cell, longitude cell), each the 32 bits Redis keeps."""
    return _squeeze(bits), _squeeze(bits >> 1)


# -- encode / decode -------------------------------------------------------------------------

def encode(lon: float, lat: float, step: int, lon_min: float = LON_MIN,
           lon_max: float = LON_MAX, lat_min: float = LAT_MIN,
           lat_max: float = LAT_MAX) -> int | None:
    """Cell bits of a point at `step` bits per axis, None where Redis refuses."""
    if step > 32 or step == 0:
        return None
    if lon > LON_MAX or lon < LON_MIN or lat > LAT_MAX or lat < LAT_MIN:
        return None
    if lat < lat_min or lat > lat_max or lon < lon_min or lon > lon_max:
        return None
    lat_off = (lat - lat_min) / (lat_max - lat_min)
    lon_off = (lon - lon_min) / (lon_max - lon_min)
    lat_off *= (1 << step)
    lon_off *= (1 << step)
    return interleave(int(lat_off), int(lon_off))


def cell_area(bits: int, step: int) -> tuple[float, float, float, float]:
    """(lon_min, lon_max, lat_min, lat_max) of a cell in Redis's ranges."""
    ilat, ilon = deinterleave(bits)
    lat_scale = LAT_MAX - LAT_MIN
    lon_scale = LON_MAX - LON_MIN
    div = float(1 << step)
    return (LON_MIN + (ilon * 1.0 / div) * lon_scale,
            LON_MIN + ((ilon + 1) * 1.0 / div) * lon_scale,
            LAT_MIN + (ilat * 1.0 / div) * lat_scale,
            LAT_MIN + ((ilat + 1) * 1.0 / div) * lat_scale)


def score_to_bits(score: float) -> int:
    """C's `(uint64_t)score` as gcc compiles it on x86-64 (scores are any double)."""
    if score != score:           # comisd's unordered result takes the signed path
        return 1 << 63
    if score < _TWO63:
        if score < -_TWO63:      # cvttsd2si's "indefinite" value
            return 1 << 63
        return int(score) & _M64
    rest = score - _TWO63
    if rest >= _TWO63:           # cvttsd2si's "indefinite" XOR the top bit
        return 0
    return int(rest) ^ (1 << 63)


def decode_score(score: float) -> tuple[float, float]:
    """(longitude, latitude) Redis reports for a member's score: its cell's centre.

    cell_area() at step 26, inlined: searches call this once per candidate."""
    bits = score_to_bits(score)
    ilat, ilon = _squeeze(bits), _squeeze(bits >> 1)
    lon = ((LON_MIN + (ilon * 1.0 / _DIV26) * _LON_SCALE) +
           (LON_MIN + ((ilon + 1) * 1.0 / _DIV26) * _LON_SCALE)) / 2
    if lon > LON_MAX:
        lon = LON_MAX
    elif lon < LON_MIN:
        lon = LON_MIN
    lat = ((LAT_MIN + (ilat * 1.0 / _DIV26) * _LAT_SCALE) +
           (LAT_MIN + ((ilat + 1) * 1.0 / _DIV26) * _LAT_SCALE)) / 2
    if lat > LAT_MAX:
        lat = LAT_MAX
    elif lat < LAT_MIN:
        lat = LAT_MIN
    return lon, lat


def align52(bits: int, step: int) -> int:
    return (bits << (52 - step * 2)) & _M64


def score_of(lon: float, lat: float) -> int:
    """The integer GEOADD hands to ZADD (as decimal text) for a valid point."""
    return align52(encode(lon, lat, STEP_MAX), STEP_MAX)


_ALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"


def geohash_string(score: float) -> bytes:
    """GEOHASH's 11 characters: the centre re-encoded over the standard -90..90 range."""
    lon, lat = decode_score(score)
    bits = encode(lon, lat, STEP_MAX, -180.0, 180.0, -90.0, 90.0)
    out = bytearray(11)
    for i in range(10):
        out[i] = _ALPHABET[(bits >> (52 - (i + 1) * 5)) & 0x1F]
    out[10] = _ALPHABET[0]
    return bytes(out)


# -- neighbours -------------------------------------------------------------------------------

def _move_lon(bits: int, step: int, d: int) -> int:
    lon = bits & _ODD
    lat = bits & _EVEN
    fill = _EVEN >> (64 - step * 2)
    if d > 0:
        lon = (lon + fill + 1) & _M64
    else:
        lon = ((lon | fill) - (fill + 1)) & _M64
    return (lon & (_ODD >> (64 - step * 2))) | lat


def _move_lat(bits: int, step: int, d: int) -> int:
    lon = bits & _ODD
    lat = bits & _EVEN
    fill = _ODD >> (64 - step * 2)
    if d > 0:
        lat = (lat + fill + 1) & _M64
    else:
        lat = ((lat | fill) - (fill + 1)) & _M64
    return lon | (lat & (_EVEN >> (64 - step * 2)))


def neighbours(bits: int, step: int) -> dict[str, int]:
    """The eight cells around one (wrapping at the edges as Redis's bit arithmetic does)."""
    e = _move_lon(bits, step, 1)
    w = _move_lon(bits, step, -1)
    return {"n": _move_lat(bits, step, 1), "s": _move_lat(bits, step, -1), "e": e, "w": w,
            "ne": _move_lat(e, step, 1), "nw": _move_lat(w, step, 1),
            "se": _move_lat(e, step, -1), "sw": _move_lat(w, step, -1)}


# -- distances ---------------------------------------------------------------------------------

def lat_distance(lat1: float, lat2: float) -> float:
    return EARTH_RADIUS_M * math.fabs(lat2 * _D_R - lat1 * _D_R)


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Haversine in metres, with Redis's shortcut when the longitudes agree."""
    lon1r = lon1 * _D_R
    lon2r = lon2 * _D_R
    v = math.sin((lon2r - lon1r) / 2)
    if v == 0.0:
        return lat_distance(lat1, lat2)
    lat1r = lat1 * _D_R
    lat2r = lat2 * _D_R
    u = math.sin((lat2r - lat1r) / 2)
    a = u * u + math.cos(lat1r) * math.cos(lat2r) * v * v
    try:
        return 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(a))
    except ValueError:           # C's asin of a rounding overshoot past 1 is NaN
        return math.nan


# -- search shapes ---------------------------------------------------------------------------

class Shape:
    """A search centre with a radius or a box, sizes in `unit`s (`to_m` metres each)."""

    __slots__ = ("lon", "lat", "box", "radius", "width", "height", "to_m")

    def __init__(self) -> None:
        self.lon = self.lat = 0.0
        self.box = False
        self.radius = self.width = self.height = 0.0
        self.to_m = 0.0

    def contains(self, lon: float, lat: float) -> float | None:
        """Distance in metres from the centre when the point is inside, else None."""
        if not self.box:
            d = distance(self.lon, self.lat, lon, lat)
            return None if d > self.radius * self.to_m else d
        if lat_distance(lat, self.lat) > self.height * self.to_m / 2:
            return None
        if distance(lon, lat, self.lon, lat) > self.width * self.to_m / 2:
            return None
        return distance(self.lon, self.lat, lon, lat)

    def bounds(self) -> tuple[float, float, float, float]:
        """(lon_min, lat_min, lon_max, lat_max) as geohashBoundingBox estimates them."""
        lon, lat = self.lon, self.lat
        height = self.to_m * (self.height / 2 if self.box else self.radius)
        width = self.to_m * (self.width / 2 if self.box else self.radius)
        lat_delta = height / EARTH_RADIUS_M / _D_R
        top = width / EARTH_RADIUS_M / math.cos((lat + lat_delta) * _D_R) / _D_R
        bottom = width / EARTH_RADIUS_M / math.cos((lat - lat_delta) * _D_R) / _D_R
        side = bottom if lat < 0 else top
        return lon - side, lat - lat_delta, lon + side, lat + lat_delta

    def reach_m(self) -> float:
        if self.box:
            r = math.sqrt((self.width / 2) * (self.width / 2) +
                          (self.height / 2) * (self.height / 2))
        else:
            r = self.radius
        return r * self.to_m


def estimate_step(range_m: float, lat: float) -> int:
    if range_m == 0:
        return 26
    step = 1
    while range_m < MERCATOR_MAX:
        range_m *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    return max(1, min(26, step))


def search_cells(shape: Shape) -> list[tuple[int, int]]:
    """The nine cells Redis scans, in its order (centre, N, S, E, W, NE, NW, SE, SW);
    a cell it leaves out is NONE."""
    lon_min, lat_min, lon_max, lat_max = shape.bounds()
    step = estimate_step(shape.reach_m(), shape.lat)
    bits = encode(shape.lon, shape.lat, step)
    nb = neighbours(bits, step)
    shrink = (cell_area(nb["n"], step)[3] < lat_max or cell_area(nb["s"], step)[2] > lat_min
              or cell_area(nb["e"], step)[1] < lon_max or cell_area(nb["w"], step)[0] > lon_min)
    if step > 1 and shrink:
        step -= 1
        bits = encode(shape.lon, shape.lat, step)
        nb = neighbours(bits, step)
    area = cell_area(bits, step)
    keep = dict.fromkeys(nb, True)
    if step >= 2:
        if area[2] < lat_min:
            keep["s"] = keep["sw"] = keep["se"] = False
        if area[3] > lat_max:
            keep["n"] = keep["ne"] = keep["nw"] = False
        if area[0] < lon_min:
            keep["w"] = keep["sw"] = keep["nw"] = False
        if area[1] > lon_max:
            keep["e"] = keep["se"] = keep["ne"] = False
    cells = [(bits, step)]
    for k in ("n", "s", "e", "w", "ne", "nw", "se", "sw"):
        cells.append((nb[k], step) if keep[k] else NONE)
    return cells


def cell_scores(bits: int, step: int) -> tuple[float, float]:
    """[min, max) of the scores inside a cell."""
    return float(align52(bits, step)), float(align52(bits + 1, step))


# -- reply text --------------------------------------------------------------------------------

def human(d: float) -> bytes:
    """Redis's "human" long double text (`%.17Lf`, trailing zeros cut) for coordinates."""
    if math.isinf(d):
        return b"inf" if d > 0 else b"-inf"
    s = b"%.17f" % d
    if b"." in s:
        s = s.rstrip(b"0")
        if s.endswith(b"."):
            s = s[:-1]
    if s == b"-0":
        s = b"0"
    return s


def fixed4(d: float) -> bytes:
    """Distances: four decimals after rounding to nearest-even, as fixedpoint_d2string."""
    if d == 0:
        return b"0.0000"
    scaled = d * 10000.0
    if scaled != scaled or not -9.223372036854775808e18 <= scaled < 9.223372036854775808e18:
        v = -(1 << 63)           # llrint's answer for NaN and out-of-range values
    else:
        v = int(round(scaled))
    sign = b"-" if v < 0 else b""
    v = abs(v)
    return b"%s%d.%04d" % (sign, v // 10000, v % 10000)
