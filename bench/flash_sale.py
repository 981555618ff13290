"""Flash sale: 500 buyers race for 100 units over HTTP, measured against a one-INSERT floor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/o2o .venv/bin/python -m bench.flash_sale

What it does (docs/benchmarks.md records the figures):

1. Creates a scratch database `o2o_bench_flash` next to the one in DATABASE_URL and migrates it
   (bench.settings: the production settings, DEBUG off, plus the floor views of bench/urls.py).
2. Seeds one approved merchant with one published store and 500 buyers with API tokens
   (bulk inserts); each round gets a fresh deal with 100 units (one per person).
3. Starts gunicorn (4 sync workers by default, CONN_MAX_AGE=60, Redis as the cache) on a
   free port of 127.0.0.1.
4. The sale: every buyer POSTs /api/v1/orders/ {deal, quantity: 1} once with their token,
   50 requests in flight, a new TCP connection per request (`Connection: close`). Prints the
   orders created (must be exactly the stock, checked in the database too), 409s, 5xx (must
   be none), other statuses, p50/p95 latency of the losers' and winners' answers, and order
   attempts per second over the whole run.
5. The floor: the same shape of load (500 requests, 50 in flight, new connection each) on
   POST /bench/floor-insert/, a plain Django view that INSERTs one row. Prints its rate, the
   ratio attempts/s / floor/s (target >= 0.5) and the losers' p95 (target <= 300 ms).
6. Repeats 4-5 for `--rounds` (3) and prints the medians: the machine is shared, so one
   round can catch a neighbour's burst.
7. Stops gunicorn and drops the scratch database, whatever happened.

Only 127.0.0.1 is contacted. Exit status 1 when the sale oversold, undersold or answered 5xx.
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

from bench.scratch import close_django_connections, drop_database, recreate_database, with_database

BENCH_DB = "o2o_bench_flash"
ROOT = Path(__file__).resolve().parent.parent
ORDERS = "/api/v1/orders/"
FLOOR = "/bench/floor-insert/"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/7"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.flash_sale", description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=500, help="buyers, one order attempt each")
    parser.add_argument("--stock", type=int, default=100, help="units of the deal")
    parser.add_argument("--in-flight", type=int, default=50, help="requests open at once")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (gthread)")
    parser.add_argument("--rounds", type=int, default=3, help="sale + floor pairs, each with a fresh deal")
    parser.add_argument("--timeout", type=float, default=120.0, help="give up on a phase after this many seconds")
    parser.add_argument("--keep", action="store_true", help=f"leave the {BENCH_DB} database for a closer look")
    options = parser.parse_args(argv)

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://", "pgsql://")):
        print("The flash-sale benchmark needs PostgreSQL: set DATABASE_URL=postgres://... (it creates and")
        print(f"drops its own database, {BENCH_DB}, next to that one). Nothing was done.")
        return 2

    bench_url = with_database(database_url, BENCH_DB)
    recreate_database(database_url, BENCH_DB)
    try:
        return _run(options, bench_url)
    finally:
        close_django_connections()
        if options.keep:
            print(f"Kept the scratch database {BENCH_DB}; drop it when done.")
        else:
            drop_database(database_url, BENCH_DB)
            print(f"Dropped the scratch database {BENCH_DB}.")


def _run(options, bench_url):
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    os.environ.update(
        {
            "DATABASE_URL": bench_url,
            "REDIS_URL": redis_url,
            "CACHE_KEY_PREFIX": "bench-flash",
            "DJANGO_SETTINGS_MODULE": "bench.settings",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    store_id, tokens = seed(options.buyers)
    print(f"Database {BENCH_DB} migrated and seeded ({options.buyers} buyers) in {time.perf_counter() - started:.1f} s")

    server = f"gunicorn -w {options.workers} -k {options.worker_class}"
    if options.worker_class == "gthread":
        server += f" --threads {options.threads}"
    rounds = []
    with Gunicorn(bench_url, redis_url, options) as port:
        warm_up(port, tokens[:20])
        for number in range(1, options.rounds + 1):
            deal_id = new_deal(store_id, options.stock)
            body = json.dumps({"deal": deal_id, "quantity": 1}).encode()
            sale = fire(
                port,
                [("POST", ORDERS, body, {"Authorization": f"Token {token}"}) for token in tokens],
                options.in_flight,
                options.timeout,
            )
            floor = fire(port, [("POST", FLOOR, b"{}", {})] * options.buyers, options.in_flight, options.timeout)
            rounds.append(report(number, options, server, deal_id, sale, floor))

    correct = all(r["correct"] for r in rounds)
    ratio = statistics.median(r["ratio"] for r in rounds)
    loser_p95 = statistics.median(r["loser_p95"] for r in rounds)
    print()
    print(
        f"Median of {len(rounds)} rounds: attempts/s {statistics.median(r['attempts'] for r in rounds):.1f}, ", end=""
    )
    print(f"floor/s {statistics.median(r['floor'] for r in rounds):.1f}, ratio {ratio:.2f} (target >= 0.5), ", end="")
    print(f"losers' p95 {loser_p95:.0f} ms (target <= 300 ms)")
    targets = ratio >= 0.5 and loser_p95 <= 300
    print(f"Correctness: {'OK' if correct else 'FAILED'}   targets: {'met' if targets else 'MISSED'}")
    return 0 if correct else 1


def report(number, options, server, deal_id, sale, floor):
    """Print one round's figures, checked against the database; return the key ones."""
    from django.db import connection

    from merchants.models import Deal
    from orders.models import Order

    connection.close()  # a fresh look at what the server committed
    deal = Deal.objects.get(pk=deal_id)
    in_db = Order.objects.filter(items__deal_id=deal_id).count()
    buyers_in_db = Order.objects.filter(items__deal_id=deal_id).values("user_id").distinct().count()

    by_status = sale["by_status"]
    created, conflicts = by_status.get(201, 0), by_status.get(409, 0)
    server_errors = sum(n for status, n in by_status.items() if isinstance(status, int) and status >= 500)
    others = {status: n for status, n in by_status.items() if status not in (201, 409)}
    losers, winners = sale["latencies"].get(409, []), sale["latencies"].get(201, [])
    attempts_rate = sale["done"] / sale["seconds"]
    floor_rate = floor["done"] / floor["seconds"]
    ratio = attempts_rate / floor_rate if floor_rate else float("nan")

    print()
    print(
        f"Round {number} - flash sale: {options.buyers} buyers, stock {options.stock}, {options.in_flight} in flight, "
        f"new connection per request, {server}"
    )
    print(f"  orders created (201)   {created:>6}   in the database: {in_db} orders from {buyers_in_db} buyers,")
    print(f"                                  units_taken {deal.units_taken} of {deal.stock}")
    print(f"  sold out (409)         {conflicts:>6}   codes: {sale['codes']}")
    print(f"  5xx                    {server_errors:>6}")
    print(f"  other                  {others or '-'}")
    print(f"  losers' latency        p50 {_p50(losers):6.1f} ms   p95 {_p95(losers):6.1f} ms   (target p95 <= 300 ms)")
    print(f"  winners' latency       p50 {_p50(winners):6.1f} ms   p95 {_p95(winners):6.1f} ms")
    print(f"  order attempts/s       {attempts_rate:7.1f}   ({sale['done']} in {sale['seconds']:.2f} s)")
    print(f"  floor: {options.buyers} x POST {FLOOR} (one INSERT), same shape of load")
    print(f"  floor requests/s       {floor_rate:7.1f}   ({floor['done']} in {floor['seconds']:.2f} s)")
    print(f"  floor latency          p50 {_p50(floor['all']):6.1f} ms   p95 {_p95(floor['all']):6.1f} ms")
    print(f"  floor statuses         {floor['by_status']}")
    print(f"  attempts/s / floor/s = {ratio:.2f}  (target >= 0.5)")
    correct = created == options.stock == in_db == deal.units_taken == buyers_in_db and server_errors == 0
    return {
        "correct": correct,
        "ratio": ratio,
        "attempts": attempts_rate,
        "floor": floor_rate,
        "loser_p95": _p95(losers),
    }


# --- data ---------------------------------------------------------------------------------------


def seed(buyers):
    """One merchant with one store; `buyers` users with tokens. Returns (store id, tokens)."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from merchants.models import Category, City, Merchant, Store

    city = City.objects.create(slug="shanghai", name="上海", name_en="Shanghai", latitude=31.2304, longitude=121.4737)
    category = Category.objects.create(slug="food", name="美食", name_en="Food")
    merchant = Merchant.objects.create(
        name="闪购餐厅",
        category=category,
        status=Merchant.Status.APPROVED,
        contact_name="Bench",
        contact_phone="13800000000",
        commission_rate=Decimal("0.0600"),
    )
    store = Store.objects.create(
        merchant=merchant,
        name="闪购餐厅 人民广场店",
        city=city,
        category=category,
        address="1 Nanjing Road",
        latitude=31.2304,
        longitude=121.4737,
        is_published=True,
    )
    User = get_user_model()
    users = User.objects.bulk_create(
        [User(username=f"buyer{i:04d}", password="!") for i in range(buyers)], batch_size=1000
    )
    tokens = Token.objects.bulk_create([Token(key=Token.generate_key(), user=user) for user in users])
    return store.pk, [token.key for token in tokens]


def new_deal(store_id, stock):
    """A fresh deal for a round: `stock` units, one per person."""
    from merchants.models import Deal

    deal = Deal.objects.create(
        store_id=store_id,
        title="双人套餐 限量抢购",
        price=Decimal("99.00"),
        original_price=Decimal("268.00"),
        stock=stock,
        per_user_limit=1,
    )
    return deal.pk


# --- HTTP ---------------------------------------------------------------------------------------


class Gunicorn:
    """gunicorn with the bench settings on a free port of 127.0.0.1, stopped on exit."""

    def __init__(self, database_url, redis_url, options):
        self.database_url, self.redis_url, self.options = database_url, redis_url, options
        self.process = None

    def __enter__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = {
            **os.environ,
            "SECRET_KEY": "bench-only-secret-key-not-for-production-use-0123456789",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "CACHE_KEY_PREFIX": "bench-flash",
            "CONN_MAX_AGE": "60",
        }
        command = [
            str(Path(sys.executable).parent / "gunicorn"),
            "o2o.wsgi",
            "--env",
            "DJANGO_SETTINGS_MODULE=bench.settings",
            "-w",
            str(self.options.workers),
            "-k",
            self.options.worker_class,
            "--threads",
            str(self.options.threads),
            "-b",
            f"127.0.0.1:{self.port}",
            "--backlog",
            "2048",
            "--log-level",
            "warning",
        ]
        # The server's log (one warning line per 409, as in production) goes to a file, not
        # between the figures.
        self.log = tempfile.NamedTemporaryFile(prefix="bench-flash-gunicorn-", suffix=".log", delete=False)
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/bench/floor/")
                if connection.getresponse().status == 200:
                    return self.port
            except OSError:
                time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(f"gunicorn did not answer within 30 s; see {self.log.name}")

    def __exit__(self, *exc_info):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        errors = [line for line in Path(self.log.name).read_text(errors="replace").splitlines() if "Traceback" in line]
        if errors:
            print(f"  gunicorn logged {len(errors)} tracebacks: see {self.log.name}")
        else:
            os.unlink(self.log.name)


def one_request(port, method, path, body, headers, timeout=30):
    """One request on its own TCP connection. Returns (status, latency ms, error code)."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(
            method,
            path,
            body=body,
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Connection": "close",
                **headers,
            },
        )
        response = connection.getresponse()
        payload = response.read()
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        return f"error: {type(exc).__name__}", (time.perf_counter() - started) * 1000, None
    finally:
        connection.close()
    latency = (time.perf_counter() - started) * 1000
    code = None
    if status >= 400:
        try:
            code = json.loads(payload).get("code")
        except ValueError:
            code = "not json"
    return status, latency, code


def fire(port, requests, in_flight, timeout):
    """Send every request once, `in_flight` at a time, each on a new connection, within
    `timeout` seconds in all (requests not started by then are counted as skipped)."""
    stop_at = time.monotonic() + timeout

    def send(request):
        if time.monotonic() >= stop_at:
            return "skipped", 0.0, None
        return one_request(port, *request)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        results = list(pool.map(send, requests))
    seconds = time.perf_counter() - started
    by_status, latencies, codes = {}, {}, {}
    for status, latency, code in results:
        by_status[status] = by_status.get(status, 0) + 1
        if status != "skipped":
            latencies.setdefault(status, []).append(latency)
        if code:
            codes[code] = codes.get(code, 0) + 1
    return {
        "seconds": seconds,
        "done": sum(n for status, n in by_status.items() if status != "skipped"),
        "by_status": by_status,
        "latencies": latencies,
        "all": [latency for values in latencies.values() for latency in values],
        "codes": codes,
    }


def warm_up(port, tokens):
    """Every worker imports the code and opens its database connection before the clock
    starts (neither the sale nor the floor pays for it): reads only, no stock is taken."""
    fire(port, [("GET", "/bench/floor/", None, {})] * 40, 8, 30)
    fire(port, [("POST", FLOOR, b"{}", {})] * 40, 8, 30)
    fire(port, [("GET", ORDERS, None, {"Authorization": f"Token {token}"}) for token in tokens], 8, 30)


def _p50(values):
    return statistics.median(values) if values else float("nan")


def _p95(values):
    return statistics.quantiles(values, n=100)[94] if len(values) > 1 else float("nan")


# --- the scratch database -----------------------------------------------------------------------


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
