"""Great-circle distances, and the database expressions that find stores near a point.

One formula decides what "within r km" means everywhere: the haversine distance on a sphere of
radius 6371.0088 km (the IUGG mean Earth radius). `haversine_km` is the Python reference; the
SQL expression from `distance_expression` computes the same thing in the same order of
operations, so the database and a brute-force scan agree to rounding (about 1e-12 km).

Indexes only narrow the candidates; the exact haversine filter always has the last word:

- PostgreSQL: `earth_box(ll_to_earth(point), r) @> ll_to_earth(latitude, longitude)` on a GiST
  expression index (extensions `cube` and `earthdistance`, migration 0003). The box is a cube
  in 3-D space around the point, so it needs no special case at the poles or the 180° meridian.
- Other databases (SQLite): a latitude/longitude bounding box on the `store_lat_lng` B-tree,
  split in two where it crosses the 180° meridian, widened to a full band where it reaches a
  pole.

Stores inside a box inscribed in the circle skip the distance computation (`within_radius_q`),
and on PostgreSQL a nearest-first page sorts only the stores no farther than the k-th nearest
(`WithinKthNearest`). docs/geo-search.md explains the choices.
"""

import math

from django.core.exceptions import FullResultSet
from django.db import connection
from django.db.models import BooleanField, Expression, F, FloatField, Func, Q, Subquery, Value

EARTH_RADIUS_KM = 6371.0088
# The radius earthdistance builds its cubes with (`SELECT earth()`), in metres.
EARTHDISTANCE_RADIUS_M = 6378168.0
# Prefilter boxes are widened by this share (and a millimetre) so that rounding in the
# box arithmetic can never drop a store that the exact haversine keeps.
BOX_MARGIN = 1e-6


def haversine_km(lat1, lng1, lat2, lng2):
    """Great-circle distance in km between two points in degrees: the reference formula."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    half_dphi = (math.radians(lat2) - phi1) / 2
    half_dlambda = (math.radians(lng2) - math.radians(lng1)) / 2
    a = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    # Rounding can push `a` a hair above 1 for antipodal points; asin would fail.
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _float(value):
    return Value(float(value), output_field=FloatField())


class HaversineKm(Func):
    """`haversine_km(lat, lng, <row latitude>, <row longitude>)` in SQL, same operations in the
    same order. One expression node with four parameters: it is compiled several times per
    search (count, page, nearest-first subquery), and a tree of Sin/Cos/Power nodes costs a
    millisecond or two of ORM work each time."""

    output_field = FloatField()

    def __init__(self, lat, lng, lat_field="latitude", lng_field="longitude"):
        super().__init__(F(lat_field), F(lng_field))
        self.lat, self.lng = float(lat), float(lng)

    def as_sql(self, compiler, connection, **extra_context):
        (lat_sql, lng_sql), column_params = _compile_all(compiler, self.get_source_expressions())
        if column_params:
            raise ValueError("HaversineKm expects plain columns")
        phi1 = math.radians(self.lat)
        least = "MIN" if connection.vendor == "sqlite" else "LEAST"  # both are math-only here
        sql = (
            f"(%s * ASIN({least}(1.0, SQRT("
            f"POWER(SIN((RADIANS({lat_sql}) - %s) / 2.0), 2)"
            f" + %s * COS(RADIANS({lat_sql})) * POWER(SIN((RADIANS({lng_sql}) - %s) / 2.0), 2)"
            f"))))"
        )
        return sql, [2 * EARTH_RADIUS_KM, phi1, math.cos(phi1), math.radians(self.lng)]


def distance_expression(lat, lng, lat_field="latitude", lng_field="longitude"):
    """SQL for `haversine_km(lat, lng, <row latitude>, <row longitude>)`, in km."""
    return HaversineKm(lat, lng, lat_field, lng_field)


def bounding_boxes(lat, lng, radius_km):
    """Latitude/longitude boxes that together cover every point within `radius_km`.

    Returns a list of (lat_min, lat_max, lng_min, lng_max): one box, two where the circle
    crosses the 180° meridian, or a full-longitude band when it reaches a pole.
    """
    angle = radius_km / EARTH_RADIUS_KM * (1 + BOX_MARGIN) + 1e-9  # radians, widened
    if angle >= math.pi:
        return [(-90.0, 90.0, -180.0, 180.0)]
    dlat = math.degrees(angle)
    lat_min, lat_max = lat - dlat, lat + dlat
    if lat_min <= -90 or lat_max >= 90:
        return [(max(lat_min, -90.0), min(lat_max, 90.0), -180.0, 180.0)]
    # The widest longitude span of a spherical cap is at latitude asin(sin φ / cos δ), where
    # the span is asin(sin δ / cos φ) (exact for a sphere).
    ratio = math.sin(angle) / math.cos(math.radians(lat))
    if ratio >= 1:
        return [(lat_min, lat_max, -180.0, 180.0)]
    dlng = math.degrees(math.asin(ratio)) * (1 + BOX_MARGIN) + 1e-9
    lng_min, lng_max = lng - dlng, lng + dlng
    if lng_max - lng_min >= 360:
        return [(lat_min, lat_max, -180.0, 180.0)]
    if lng_min < -180:
        return [(lat_min, lat_max, -180.0, lng_max), (lat_min, lat_max, lng_min + 360, 180.0)]
    if lng_max > 180:
        return [(lat_min, lat_max, lng_min, 180.0), (lat_min, lat_max, -180.0, lng_max - 360)]
    return [(lat_min, lat_max, lng_min, lng_max)]


def inner_box(lat, lng, radius_km):
    """A latitude/longitude box lying wholly inside the circle, or None where none is simple.

    Stores in it are within the radius without computing a distance, which is most of the
    stores a dense search counts; only those between this box and the circle pay for the
    haversine formula. The box starts as the square inscribed in the circle, slightly shrunk;
    its corners are its farthest points (for boxes this small), so checking them with the
    reference formula proves the whole box is inside.
    """
    angle = radius_km / EARTH_RADIUS_KM
    if angle > 0.05:  # over about 300 km: not worth it, and the corner argument weakens
        return None
    half_side_degrees = math.degrees(angle / math.sqrt(2)) * 0.999
    lat_min, lat_max = lat - half_side_degrees, lat + half_side_degrees
    if lat_min <= -89 or lat_max >= 89:
        return None
    # Longitude degrees are longest on the side nearer the equator: scale by that side.
    widest_cos = math.cos(math.radians(min(abs(lat_min), abs(lat_max)) if lat_min * lat_max > 0 else 0.0))
    dlng = half_side_degrees / widest_cos
    lng_min, lng_max = lng - dlng, lng + dlng
    if lng_min < -180 or lng_max > 180:
        return None
    corners = [(a, b) for a in (lat_min, lat_max) for b in (lng_min, lng_max)]
    if any(haversine_km(lat, lng, a, b) > radius_km * (1 - BOX_MARGIN) for a, b in corners):
        return None
    return lat_min, lat_max, lng_min, lng_max


def within_radius_q(lat, lng, radius_km, distance_field="distance_km"):
    """Exactly the stores whose haversine distance is <= `radius_km` (`distance_field` must be
    annotated with `distance_expression(lat, lng)`), computing it only outside `inner_box`."""
    exact = Q(**{f"{distance_field}__lte": radius_km})
    box = inner_box(lat, lng, radius_km)
    if box is None:
        return exact
    lat_min, lat_max, lng_min, lng_max = box
    return Q(latitude__range=(lat_min, lat_max), longitude__range=(lng_min, lng_max)) | exact


def bounding_box_q(lat, lng, radius_km):
    """A Q that the (latitude, longitude) B-tree can serve: the boxes of `bounding_boxes`."""
    condition = Q()
    for lat_min, lat_max, lng_min, lng_max in bounding_boxes(lat, lng, radius_km):
        condition |= Q(latitude__range=(lat_min, lat_max), longitude__range=(lng_min, lng_max))
    return condition


class EarthBoxContains(Func):
    """PostgreSQL: `earth_box(ll_to_earth(lat, lng), r_m) @> ll_to_earth(latitude, longitude)`.

    The right-hand side is exactly the expression of the GiST index `store_earth_gist`, which is
    what lets the planner use it.
    """

    output_field = BooleanField()

    def __init__(self, lat, lng, radius_km):
        # earth_box measures along a sphere of earthdistance's radius, not ours: convert the
        # angle, then widen a little (the box is only a prefilter).
        radius_m = radius_km / EARTH_RADIUS_KM * EARTHDISTANCE_RADIUS_M * (1 + BOX_MARGIN) + 0.001
        super().__init__(_float(lat), _float(lng), _float(radius_m), F("latitude"), F("longitude"))

    def as_sql(self, compiler, connection, **extra_context):
        parts, params = _compile_all(compiler, self.get_source_expressions())
        return "earth_box(ll_to_earth({}, {}), {}) @> ll_to_earth({}, {})".format(*parts), params


class KnnDistance(Func):
    """PostgreSQL: `ll_to_earth(latitude, longitude) <-> ll_to_earth(lat, lng)`, the straight-line
    (chord) distance in metres. The GiST index returns rows in this order (a KNN scan), and chord
    order is great-circle order."""

    output_field = FloatField()

    def __init__(self, lat, lng):
        super().__init__(F("latitude"), F("longitude"), _float(lat), _float(lng))

    def as_sql(self, compiler, connection, **extra_context):
        parts, params = _compile_all(compiler, self.get_source_expressions())
        return "ll_to_earth({}, {}) <-> ll_to_earth({}, {})".format(*parts), params


class WithinKthNearest(Expression):
    """PostgreSQL: keep only stores no farther than the k-th nearest match, k being the query's
    own LIMIT (offset + page size), read when the SQL is compiled.

    Exact nearest-first pages need `ORDER BY distance, pk`, which PostgreSQL 15 cannot read off
    the GiST index, so it would sort every store within the radius, and join each to its
    city, category and merchant first. This condition lets it sort a handful instead:

        earth_box(point, d_k) @> ll_to_earth(latitude, longitude)
        d_k = (SELECT distance ... ORDER BY <KNN distance> OFFSET k-1 LIMIT 1)

    The subquery walks the GiST index nearest-first and stops at the k-th match. The box
    around the point holds every store with distance <= d_k, so it holds the first k stores in
    (distance, pk) order, ties included, and the outer ORDER BY ... LIMIT picks exactly the
    page a full sort would. When d_k is NULL (fewer than k matches) the box holds the globe.
    Without a LIMIT (count, iteration) the condition is left out.

    The KNN walk has no radius in it: with the radius box as an index condition PostgreSQL
    misjudges the box as tiny (a fixed 0.1 % estimate for `@>`) and sorts the whole box. A
    walk without a bound, though, would visit the whole table when fewer than k stores
    anywhere match the other filters (open now at 6 a.m., a rare keyword). So with a radius
    the walk only runs when a cheap guard first finds k matches within the radius (a bitmap
    scan of the radius box that stops at k rows); the walk then never leaves the radius.
    """

    conditional = True
    output_field = BooleanField()
    WHOLE_GLOBE_M = 4e7  # more than half the circumference: earth_box then holds every point

    def __init__(self, candidates, lat, lng, within_radius=None):
        """`candidates`: the search queryset with every filter but the radius, annotated with
        `distance_km`; `within_radius`: the same with the radius filter, if there is one."""
        super().__init__()
        self.lat, self.lng = lat, lng
        self.kth_distance = Subquery(
            candidates.order_by(KnnDistance(lat, lng)).values("distance_km"), output_field=FloatField()
        )
        self.guard = None if within_radius is None else Subquery(within_radius.order_by().values("pk"))
        self.columns = [F("latitude"), F("longitude")]

    def get_source_expressions(self):
        return [self.kth_distance, self.guard, *self.columns]

    def set_source_expressions(self, expressions):
        self.kth_distance, self.guard, *self.columns = expressions

    def as_sql(self, compiler, connection, **extra_context):
        k = compiler.query.high_mark
        if not k:  # no LIMIT (or an empty slice): nothing to bound
            raise FullResultSet
        kth_distance = self.kth_distance.copy()
        kth_distance.query.set_limits(k - 1, k)
        distance_sql, distance_params = compiler.compile(kth_distance)
        if self.guard is not None:
            guard = self.guard.copy()
            guard.query.set_limits(0, k)
            guard_sql, guard_params = compiler.compile(guard)
            # Only compiled SQL and placeholders are put together here, never input.
            count_sql = f"SELECT COUNT(*) FROM {guard_sql} AS k_within_radius"  # noqa: S608
            distance_sql = f"CASE WHEN ({count_sql}) >= %s THEN {distance_sql} END"
            distance_params = [*guard_params, k, *distance_params]
        (lat_sql, lng_sql), column_params = _compile_all(compiler, self.columns)
        metres_per_km = EARTHDISTANCE_RADIUS_M / EARTH_RADIUS_KM * (1 + BOX_MARGIN)
        sql = (
            f"earth_box(ll_to_earth(%s, %s), COALESCE({distance_sql} * %s + 0.001, %s)) "
            f"@> ll_to_earth({lat_sql}, {lng_sql})"
        )
        params = [self.lat, self.lng, *distance_params, metres_per_km, self.WHOLE_GLOBE_M, *column_params]
        return sql, params


def _compile_all(compiler, expressions):
    parts, params = [], []
    for expression in expressions:
        sql, expression_params = compiler.compile(expression)
        parts.append(sql)
        params.extend(expression_params)
    return parts, params


def uses_earthdistance():
    """PostgreSQL has the cube/earthdistance index (migration 0003); other databases do not."""
    return connection.vendor == "postgresql"


def radius_prefilter(lat, lng, radius_km):
    """A condition an index can serve that holds every store within `radius_km` (and a few more:
    the caller still filters on the exact distance)."""
    if uses_earthdistance():
        return EarthBoxContains(lat, lng, radius_km)
    return bounding_box_q(lat, lng, radius_km)


def parse_point(lat, lng):
    """(lat, lng) as floats from two query-string values, or None when either is missing or bad."""
    try:
        lat, lng = float(lat), float(lng)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lng) and -90 <= lat <= 90 and -180 <= lng <= 180):
        return None
    return lat, lng
