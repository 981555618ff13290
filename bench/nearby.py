"""Nearby search at 1k and 100k stores, then over HTTP against a one-query floor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/o2o .venv/bin/python -m bench nearby

What it does (docs/benchmarks.md records the figures):

1. Creates a scratch database `o2o_bench` next to the one in DATABASE_URL, migrates it and
   inserts 1,000 stores around three city centres (Shanghai, Hangzhou, Chengdu; denser near
   the centre).
2. Copies it (`CREATE DATABASE ... TEMPLATE`) to `o2o_bench_large` and grows the copy to
   100,000 stores.
3. Times `store_search` producing a first page of 20 with its count (radius 3 km, nearest
   first) for 300 query points drawn from the stores' distribution, on both databases,
   interleaved (point i at 1k, then at 100k): a shared machine's load then weighs on both
   sizes alike. Prints p50, p95 and p95(100k) / p95(1k) (target: at most 1.5).
4. Starts gunicorn (production settings, 2 workers) on a free local port against the 100k
   database and loads `/api/v1/stores/?lat=&lng=&radius_km=3` and a one-query floor view with
   the same number of client threads, in alternating one-second windows (10 s each in all);
   prints both rates and their ratio (target: at least 0.5).
5. Drops the scratch databases, whatever happened.
"""

import argparse
import http.client
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

from bench.scratch import close_django_connections, copy_database, drop_database, recreate_database, with_database

BENCH_DB = "o2o_bench"
BENCH_DB_LARGE = "o2o_bench_large"
ROOT = Path(__file__).resolve().parent.parent
PAGE_SIZE = 20
RADIUS_KM = 3.0

# slug, name, English name, centre, share of the stores, radial scale in km (Gamma(2, scale))
CITIES = [
    ("shanghai", "上海", "Shanghai", (31.2304, 121.4737), 0.45, 6.0),
    ("hangzhou", "杭州", "Hangzhou", (30.2741, 120.1551), 0.30, 5.0),
    ("chengdu", "成都", "Chengdu", (30.5728, 104.0668), 0.25, 5.0),
]
CATEGORIES = [
    (
        "food",
        "美食",
        "Food",
        "🍜",
        [("hotpot", "火锅", "Hotpot"), ("noodles", "面馆", "Noodles"), ("bbq", "烧烤", "BBQ")],
    ),
    ("beauty", "丽人", "Beauty & hair", "💇", [("hair", "美发", "Hair"), ("nails", "美甲", "Nails")]),
    ("spa", "足疗按摩", "Spa & massage", "💆", [("massage", "按摩", "Massage")]),
    ("ktv", "KTV", "KTV & leisure", "🎤", []),
    ("fitness", "运动健身", "Fitness", "🏋️", [("gym", "健身房", "Gym"), ("yoga", "瑜伽", "Yoga")]),
    ("home", "家政", "Home services", "🧹", []),
    ("education", "教育培训", "Education", "📚", []),
]
BRANCHES = ["人民广场店", "徐家汇店", "静安寺店", "陆家嘴店", "西湖店", "春熙路店", "五角场店", "中山公园店"]
TAGS = ["late night", "family", "wifi", "parking", "group friendly", "quiet", "new", ""]


def main(argv):
    parser = argparse.ArgumentParser(prog="python -m bench nearby", description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1_000, help="stores in the first measurement")
    parser.add_argument("--large", type=int, default=100_000, help="stores in the second measurement")
    parser.add_argument("--queries", type=int, default=300, help="timed searches per size")
    parser.add_argument("--seconds", type=float, default=10.0, help="HTTP load time per endpoint")
    parser.add_argument("--concurrency", type=int, default=4, help="HTTP client threads")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--keep", action="store_true", help="leave the scratch databases for a closer look")
    options = parser.parse_args(argv)

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://", "pgsql://")):
        print("The nearby benchmark needs PostgreSQL: set DATABASE_URL=postgres://... (it creates and drops")
        print(f"its own database, {BENCH_DB}, next to that one). Nothing was done.")
        return 2

    recreate_database(database_url, BENCH_DB)
    try:
        return _run(options, database_url)
    finally:
        close_django_connections()
        for name in (BENCH_DB, BENCH_DB_LARGE):
            if options.keep:
                print(f"Kept the scratch database {name}; drop it when done.")
            else:
                drop_database(database_url, name)
        if not options.keep:
            print(f"Dropped the scratch databases {BENCH_DB} and {BENCH_DB_LARGE}.")


def _run(options, database_url):
    os.environ["DATABASE_URL"] = with_database(database_url, BENCH_DB)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    rng = random.Random(options.seed)
    data = BenchData(rng)
    data.grow_to(options.small)
    small_db = connections["default"]
    small_db.close()  # CREATE DATABASE ... TEMPLATE needs the template unused
    copy_database(database_url, BENCH_DB, BENCH_DB_LARGE)
    large_db = _connection_to(BENCH_DB_LARGE)
    with using_connection(large_db):
        data.grow_to(options.large)

    points = data.query_points(options.queries)
    try:
        small, large = time_searches_interleaved(points, small_db, large_db)
    finally:
        small_db.close()
        large_db.close()
    ratio = large["p95"] / small["p95"]

    print()
    print(f"Nearby search (first page of {PAGE_SIZE} with count, radius {RADIUS_KM:g} km, nearest first)")
    print(f"  load average before timing: {_load_average()}")
    print(f"  {'stores':>8}  {'p50 ms':>7}  {'p95 ms':>7}  {'median hits':>11}  {'max hits':>8}")
    for size, figures in ((options.small, small), (options.large, large)):
        print(
            f"  {size:>8,}  {figures['p50']:>7.2f}  {figures['p95']:>7.2f}  {figures['median_hits']:>11,}"
            f"  {figures['max_hits']:>8,}"
        )
    print(f"  p95({options.large:,}) / p95({options.small:,}) = {ratio:.2f}  (target <= 1.5)")
    print(f"  data built and measured in {time.perf_counter() - started:.0f} s")

    if not options.skip_http:
        paths = [
            "/api/v1/stores/?" + urlencode({"lat": f"{lat:.6f}", "lng": f"{lng:.6f}", "radius_km": f"{RADIUS_KM:g}"})
            for lat, lng in data.query_points(500)
        ]
        with gunicorn(with_database(database_url, BENCH_DB_LARGE)) as port:
            floor, stores = load_alternating(
                port, {"floor": ["/bench/floor/"], "stores": paths}, options.seconds, options.concurrency
            )
        print()
        print(
            f"HTTP (gunicorn -w 2, prod settings, {options.large:,} stores, {options.concurrency} client threads, "
            f"{options.seconds:g} s each in alternating 1 s windows)"
        )
        print(f"  load average before loading: {_load_average()}")
        for name, figures in (("floor (1 query)", floor), ("GET /api/v1/stores/ nearby", stores)):
            print(
                f"  {name:<28} {figures['rate']:>7.0f} req/s   p50 {figures['p50']:.1f} ms   "
                f"p95 {figures['p95']:.1f} ms   errors {figures['errors']}"
            )
        print(f"  stores / floor = {stores['rate'] / floor['rate']:.2f}  (target >= 0.5)")
    return 0


def _load_average():
    try:
        return " ".join(f"{value:.1f}" for value in os.getloadavg()) + f" on {os.cpu_count()} cores"
    except OSError:
        return "unknown"


@contextmanager
def using_connection(connection):
    """Make `connection` the default database connection inside the block."""
    from django.db import connections

    previous = connections["default"]
    connections["default"] = connection
    try:
        yield connection
    finally:
        connections["default"] = previous


def _connection_to(name):
    """A second Django connection like the default one, to another database."""
    from django.db import connections

    wrapper = connections.create_connection("default")
    wrapper.settings_dict = {**wrapper.settings_dict, "NAME": name}
    return wrapper


# --- data ---------------------------------------------------------------------------------


class BenchData:
    """Cities, categories, merchants and stores, grown in steps through the ORM."""

    def __init__(self, rng):
        from merchants.models import Category, City

        self.rng = rng
        self.cities = []
        for position, (slug, name, name_en, (lat, lng), share, scale) in enumerate(CITIES):
            city = City.objects.create(
                slug=slug, name=name, name_en=name_en, latitude=lat, longitude=lng, position=position
            )
            self.cities.append((city, share, scale))
        self.categories = []
        for position, (slug, name, name_en, icon, children) in enumerate(CATEGORIES):
            top = Category.objects.create(slug=slug, name=name, name_en=name_en, icon=icon, position=position)
            self.categories.append(top)
            for child_slug, child_name, child_en in children:
                child = Category.objects.create(slug=child_slug, name=child_name, name_en=child_en, parent=top)
                self.categories.append(child)
        self.count = 0
        self.merchant = None

    def pick_city(self):
        roll, total = self.rng.random(), 0.0
        for city, share, scale in self.cities:
            total += share
            if roll <= total:
                return city, scale
        return self.cities[-1][0], self.cities[-1][2]

    def point_near(self, city, scale):
        """A point around the city centre: radial distance Gamma(2, scale) km, at most 40 km."""
        while True:
            distance = self.rng.gammavariate(2, scale)
            if distance <= 40:
                break
        bearing = self.rng.uniform(0, 2 * math.pi)
        lat = city.latitude + distance * math.cos(bearing) / 111.2
        lng = city.longitude + distance * math.sin(bearing) / (111.2 * math.cos(math.radians(lat)))
        return lat, lng

    def query_points(self, count):
        """Where consumers search from: distributed like the stores, centres busiest."""
        return [self.point_near(*self.pick_city()) for _ in range(count)]

    def grow_to(self, total, batch=5_000):
        from django.db import connection

        from merchants.models import Merchant, Store

        started, first_new = time.perf_counter(), self.count
        with connection.cursor() as cursor:
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM merchants_store")
            last_id = cursor.fetchone()[0]
        while self.count < total:
            size = min(batch, total - self.count)
            # About three stores per merchant; a few merchants are suspended or not yet approved.
            merchants = Merchant.objects.bulk_create(
                Merchant(
                    name=f"商户 {self.count + i}",
                    category=self.rng.choice(self.categories),
                    status=Merchant.Status.SUSPENDED if self.rng.random() < 0.02 else Merchant.Status.APPROVED,
                    contact_name="Bench",
                    contact_phone="13800000000",
                )
                for i in range(0, size, 3)
            )
            stores = []
            for i in range(size):
                merchant = merchants[i // 3]
                city, scale = self.pick_city()
                lat, lng = self.point_near(city, scale)
                store = Store(
                    merchant=merchant,
                    name=f"{merchant.name} {self.rng.choice(BRANCHES)}",
                    city=city,
                    category=merchant.category,
                    address=f"{self.rng.randint(1, 999)} 号",
                    latitude=lat,
                    longitude=lng,
                    phone="021-00000000",
                    tags=self.rng.choice(TAGS),
                    avg_price=Decimal(self.rng.randint(20, 400)),
                    is_published=self.rng.random() < 0.97,
                    rating=Decimal(self.rng.randint(300, 500)) / 100,
                    review_count=self.rng.randint(0, 3000),
                    sales_count=self.rng.randint(0, 20000),
                    has_deals=self.rng.random() < 0.4,
                )
                store.search_text = " ".join(
                    part
                    for part in (
                        store.name,
                        merchant.name,
                        merchant.category.name,
                        merchant.category.name_en,
                        store.tags,
                        store.address,
                    )
                    if part
                ).lower()
                stores.append(store)
            Store.objects.bulk_create(stores, batch_size=2_000)
            self.count += size
        with connection.cursor() as cursor:
            # Most stores open 10:00-22:00, every tenth 17:00-02:00 (overnight), every tenth-plus-one
            # with a lunch break; one in a hundred is closed today; seven in ten have a cover photo.
            # (`%%` is a literal % in SQL that has query parameters.)
            cursor.execute(
                """
                INSERT INTO merchants_storehours (store_id, weekday, opens, closes)
                SELECT s.id, d, span.opens, span.closes
                FROM merchants_store s CROSS JOIN generate_series(0, 6) d
                CROSS JOIN LATERAL (
                    SELECT time '17:00' AS opens, time '02:00' AS closes WHERE s.id %% 10 = 0
                    UNION ALL SELECT time '11:00', time '14:00' WHERE s.id %% 10 = 1
                    UNION ALL SELECT time '17:00', time '22:00' WHERE s.id %% 10 = 1
                    UNION ALL SELECT time '10:00', time '22:00' WHERE s.id %% 10 > 1
                ) span
                WHERE s.id > %s
                """,
                [last_id],
            )
            cursor.execute(
                """
                INSERT INTO merchants_storephoto
                    (store_id, image, thumbnail, width, height, caption, is_cover, position, created_at)
                SELECT id, 'stores/bench/' || id || '.jpg', 'stores/bench/thumbs/' || id || '.jpg',
                       1200, 900, '', true, 0, now()
                FROM merchants_store WHERE id > %s AND id %% 10 < 7
                """,
                [last_id],
            )
            cursor.execute(
                "INSERT INTO merchants_storecloseddate (store_id, date, note) "
                "SELECT id, current_date, '' FROM merchants_store WHERE id > %s AND id %% 100 = 7",
                [last_id],
            )
            # What autovacuum would have done by the time a table this size serves traffic.
            for table in (
                "merchants_store",
                "merchants_merchant",
                "merchants_storehours",
                "merchants_storephoto",
                "merchants_storecloseddate",
            ):
                cursor.execute(f"VACUUM ANALYZE {table}")
        print(f"  {total:,} stores ready ({total - first_new:,} added in {time.perf_counter() - started:.1f} s)")


# --- timing the selector -------------------------------------------------------------------


def time_searches_interleaved(points, small_db, large_db, warm_up=30):
    """Time the same searches on both databases, alternating which goes first."""
    from django.core.paginator import Paginator

    from merchants.selectors import listing_cover, store_search

    def search(lat, lng):
        page = Paginator(store_search(lat=lat, lng=lng, radius_km=RADIUS_KM, ordering="distance"), PAGE_SIZE).page(1)
        for store in page.object_list:  # what a result card reads, prefetched
            store.is_open_now, listing_cover(store), store.city.name, store.category.name, store.merchant.name
        return page.paginator.count

    def timed(database, lat, lng):
        with using_connection(database):
            started = time.perf_counter()
            hits = search(lat, lng)
            return (time.perf_counter() - started) * 1000, hits

    for database in (small_db, large_db):
        for lat, lng in points[:warm_up]:
            timed(database, lat, lng)
    samples = {id(small_db): ([], []), id(large_db): ([], [])}
    for index, (lat, lng) in enumerate(points):
        order = (small_db, large_db) if index % 2 == 0 else (large_db, small_db)
        for database in order:
            duration, hits = timed(database, lat, lng)
            samples[id(database)][0].append(duration)
            samples[id(database)][1].append(hits)
    return [_summary(*samples[id(database)]) for database in (small_db, large_db)]


def _summary(durations, hits):
    return {
        "p50": statistics.median(durations),
        "p95": statistics.quantiles(durations, n=100)[94],
        "median_hits": int(statistics.median(hits)),
        "max_hits": max(hits),
    }


# --- HTTP ------------------------------------------------------------------------------------


@contextmanager
def gunicorn(database_url):
    """gunicorn with production settings on a free port of 127.0.0.1; yields the port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "SECRET_KEY": "bench-only-secret-key-not-for-production-use-0123456789",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": database_url,
        "CONN_MAX_AGE": "60",
    }
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "o2o.wsgi",
        "-w",
        "2",
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        _wait_until_serving(port)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_until_serving(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/bench/floor/")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {timeout} s")


def load_alternating(port, targets, seconds, concurrency, window=1.0, warm_up=2.0):
    """Load each target (name -> paths) in turn for `window` seconds until each had `seconds`."""
    for paths in targets.values():
        load(port, paths, warm_up, concurrency)
    totals = {name: {"done": 0, "errors": 0, "latencies": []} for name in targets}
    for _round in range(max(1, round(seconds / window))):
        for name, paths in targets.items():
            done, errors, latencies = load(port, paths, window, concurrency)
            totals[name]["done"] += done
            totals[name]["errors"] += errors
            totals[name]["latencies"] += latencies
    results = []
    for total in totals.values():
        latencies = sorted(total["latencies"])
        results.append(
            {
                "rate": total["done"] / seconds,
                "errors": total["errors"],
                "p50": statistics.median(latencies) if latencies else float("nan"),
                "p95": statistics.quantiles(latencies, n=100)[94] if len(latencies) > 1 else float("nan"),
            }
        )
    return results


def load(port, paths, seconds, concurrency):
    """(answers, errors, latencies in ms) from `concurrency` clients sending for `seconds`."""
    results = [None] * concurrency
    stop_at = time.monotonic() + seconds

    def client(index):
        connection, done, errors, latencies = None, 0, 0, []
        position = index * 97
        while time.monotonic() < stop_at:
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            path = paths[position % len(paths)]
            position += 1
            started = time.perf_counter()
            try:
                connection.request("GET", path, headers={"Accept": "application/json"})
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = None
                errors += 1
                continue
            if response.status == 200:
                done += 1
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                errors += 1
            if response.will_close:  # gunicorn's sync workers close after each answer
                connection.close()
                connection = None
        if connection is not None:
            connection.close()
        results[index] = (done, errors, latencies)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (
        sum(result[0] for result in results),
        sum(result[1] for result in results),
        [latency for result in results for latency in result[2]],
    )


# --- the scratch database ---------------------------------------------------------------------


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
