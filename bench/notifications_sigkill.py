"""Notifications under SIGKILL: a real Celery worker killed in the middle of a batch loses no
message and sends none twice.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/o2o REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python -m bench.notifications_sigkill

What it does (docs/benchmarks.md and docs/notifications.md record the figures):

1. Creates a scratch database `o2o_bench_notify` next to the one in DATABASE_URL and migrates
   it (bench.settings: the production settings). The broker is Redis at REDIS_URL's host, in
   its own database number (--redis-db, default 13), emptied of the bench's queue first.
2. Makes 1,000 users with a phone number and notifies each once through the real dispatch path
   (notifications.events.refund_done): 1,000 notifications, 2,000 deliveries (in-app and SMS),
   2,000 deliver_task messages in the "notifications" queue.
3. The SMS provider is SlowRecordingSmsBackend below: it takes a few milliseconds per text,
   honours idempotency keys like a real provider, and records on disk (append-only files and
   one marker file per accepted key, which survive SIGKILL) every request and every text it
   accepted.
4. Starts `celery -A o2o worker -Q notifications` (prefork, 4 processes) in its own process
   group, and when 40 % of the deliveries are sent and a text is mid-send (claimed, not yet
   marked sent), SIGKILLs the whole group: the parent and every pool process die at once,
   mid-task, without acknowledging their messages.
5. Starts a new worker. Messages the dead worker held are not redelivered by Redis before the
   visibility timeout (6 h in settings), so once the queue is drained the bench runs the
   stuck-delivery sweep (notifications.services.deliveries_retry_stuck, what beat runs every
   minute) with the bench's short thresholds (5 s instead of 5 min; the "sending" lease also
   5 s instead of 120 s), until every delivery is sent or failed.
6. Prints: notifications, deliveries sent / failed / missing, provider requests, deliveries
   requested more than once (interrupted sends resumed with the same idempotency key), texts
   that reached a phone, and deliveries with more than one text (must be 0). Exit status 1
   when anything is missing or doubled.

Only 127.0.0.1 services are contacted; the scratch database is dropped at the end.
"""

import argparse
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.scratch import close_django_connections, drop_database, recreate_database, with_database

BENCH_DB = "o2o_bench_notify"
ROOT = Path(__file__).resolve().parent.parent
QUEUE = "notifications"
LEASE_SECONDS = 5
STUCK_AFTER_SECONDS = 5
SMS_DIR_ENV = "BENCH_SMS_DIR"
SMS_DELAY_ENV = "BENCH_SMS_DELAY_MS"


# --- the SMS provider the worker uses (settings.SMS_BACKEND points here) -----------------------


def _append(path, line):
    """One write with O_APPEND: whole lines, also from several processes, also under SIGKILL."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


class SlowRecordingSmsBackend:
    """A provider that takes a few milliseconds, honours idempotency keys, and keeps records.

    requests.log: one line per request (written before anything else, so a request cut short
    by SIGKILL is counted too). accepted/<key>: created once per key (O_EXCL) when the text is
    accepted for sending: the texts that reach a phone. repeats.log: requests refused as a
    repeat of an accepted key (each one would have been a second text without the key).
    Half the delay comes before accepting and half after (the answer's way back), so a kill can
    land on either side: before the provider has the text, or after it has it but before the
    platform hears so.
    """

    def send(self, *, phone, text, idempotency_key):
        directory = Path(os.environ[SMS_DIR_ENV])
        half_delay = float(os.environ.get(SMS_DELAY_ENV, "20")) / 2000
        _append(directory / "requests.log", idempotency_key)
        time.sleep(half_delay)
        try:
            os.close(os.open(directory / "accepted" / idempotency_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            _append(directory / "repeats.log", idempotency_key)
        time.sleep(half_delay)
        return f"bench-{idempotency_key}"


# --- the run --------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.notifications_sigkill", description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=1000, help="notifications (one per user)")
    parser.add_argument("--sms-delay-ms", type=float, default=20.0, help="the provider's time per text")
    parser.add_argument("--concurrency", type=int, default=4, help="worker pool processes")
    parser.add_argument("--kill-at", type=float, default=0.4, help="SIGKILL when this share of deliveries is sent")
    parser.add_argument("--redis-db", type=int, default=13, help="Redis database number for the bench's broker")
    parser.add_argument("--timeout", type=float, default=150.0, help="give up after this many seconds")
    parser.add_argument("--keep", action="store_true", help=f"leave the {BENCH_DB} database for a closer look")
    options = parser.parse_args(argv)
    if _django_already_set_up():
        # `python -m bench` runs every benchmark in one process, and an earlier one has set up
        # Django with its own database: run in a fresh process, with this benchmark's settings.
        return subprocess.call([sys.executable, "-m", "bench.notifications_sigkill", *(argv or [])], cwd=ROOT)

    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://", "pgsql://")) or not redis_url:
        print("This benchmark needs PostgreSQL and Redis: set DATABASE_URL=postgres://... and REDIS_URL=redis://...")
        print(f"(it creates and drops its own database, {BENCH_DB}, and uses Redis database --redis-db).")
        return 2

    bench_url = with_database(database_url, BENCH_DB)
    broker_url = with_database(redis_url, str(options.redis_db))
    sms_dir = Path(tempfile.mkdtemp(prefix="bench-notify-sms-"))
    (sms_dir / "accepted").mkdir()
    recreate_database(database_url, BENCH_DB)
    try:
        return _run(options, bench_url, broker_url, sms_dir)
    finally:
        close_django_connections()
        shutil.rmtree(sms_dir, ignore_errors=True)
        if options.keep:
            print(f"Kept the scratch database {BENCH_DB}; drop it when done.")
        else:
            drop_database(database_url, BENCH_DB)
            print(f"Dropped the scratch database {BENCH_DB}.")


def _environment(bench_url, broker_url, sms_dir, options):
    return {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": bench_url,
        "REDIS_URL": broker_url,
        "CACHE_KEY_PREFIX": "bench-notify",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "SMS_BACKEND": "bench.notifications_sigkill.SlowRecordingSmsBackend",
        "NOTIFICATION_SENDING_LEASE_SECONDS": str(LEASE_SECONDS),
        SMS_DIR_ENV: str(sms_dir),
        SMS_DELAY_ENV: str(options.sms_delay_ms),
    }


def _run(options, bench_url, broker_url, sms_dir):
    env = _environment(bench_url, broker_url, sms_dir, options)
    os.environ.update(env)
    import django

    django.setup()
    import redis

    broker = redis.Redis.from_url(broker_url)
    _clear_broker(broker)
    try:
        return _measure(options, env, broker, broker_url, sms_dir)
    finally:
        _clear_broker(broker)


def _measure(options, env, broker, broker_url, sms_dir):
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    print(f"Database {BENCH_DB} migrated in {time.perf_counter() - started:.1f} s; broker {broker_url}")

    started = time.perf_counter()
    enqueue(options.notifications)
    total = _counts()["deliveries"]
    print(
        f"Notified {options.notifications} users in {time.perf_counter() - started:.1f} s: "
        f"{total} deliveries, {_queue_length(broker)} messages in the {QUEUE!r} queue"
    )

    deadline = time.monotonic() + options.timeout
    log_path = sms_dir / "worker.log"
    batch_started = time.perf_counter()
    worker = _start_worker(options, env, log_path, name="bench-notify-1")
    kill_target = int(total * options.kill_at)
    while _counts()["sent"] < kill_target:
        if worker.poll() is not None or time.monotonic() > deadline:
            return _give_up("the first worker stopped or took too long", log_path)
        time.sleep(0.02)
    # The worst moment: wait (a little) until a text is mid-send, claimed but not yet marked.
    wait_until = time.monotonic() + 3
    while _counts()["sending"] == 0 and time.monotonic() < wait_until:
        time.sleep(0.005)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    killed_after = time.perf_counter() - batch_started
    at_kill = _counts()
    print(
        f"SIGKILL to the worker's process group after {killed_after:.1f} s: {at_kill['sent']} of {total} sent, "
        f"{at_kill['sending']} 'sending' (mid-send), {at_kill['pending']} pending"
    )

    worker = _start_worker(options, env, log_path, name="bench-notify-2")
    swept = 0
    try:
        while True:
            counts = _counts()
            if counts["pending"] + counts["sending"] == 0:
                break
            if worker.poll() is not None or time.monotonic() > deadline:
                return _give_up("the second worker stopped or took too long", log_path)
            if _queue_length(broker) == 0:
                # What is unfinished now has no message in the broker: its task was lost
                # with the dead worker. The sweep (beat's job, every minute) queues it again.
                from notifications.services import deliveries_retry_stuck

                swept += deliveries_retry_stuck(stuck_after=dt.timedelta(seconds=STUCK_AFTER_SECONDS))
                time.sleep(1.0)
            else:
                time.sleep(0.1)
        batch_seconds = time.perf_counter() - batch_started
    finally:
        _stop(worker)
    return report(options, sms_dir, at_kill, killed_after, batch_seconds, swept)


def enqueue(count):
    """`count` users with a phone, each notified once through the real dispatch path."""
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.db import connection

    from notifications import events

    user_model = get_user_model()
    user_model.objects.bulk_create(
        user_model(
            username=f"bench{i:05d}",
            phone=f"139{i:08d}",
            language="zh-hans" if i % 2 else "en",
            password="!",  # unusable: nobody signs in
        )
        for i in range(count)
    )
    users = list(user_model.objects.filter(username__startswith="bench").order_by("pk"))

    def notify_some(some):
        try:
            for user in some:
                # Autocommit: each notify() commits, and its two tasks are queued on that commit.
                events.refund_done(
                    consumer=user,
                    refund_id=user.pk,
                    order_number=f"B{user.pk:08d}",
                    amount=Decimal("9.90"),
                    link="/orders/",
                )
        finally:
            connection.close()

    # A few callers at once, as several web processes would be: the wait is round trips.
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(notify_some, [users[i::4] for i in range(4)]))


def report(options, sms_dir, at_kill, killed_after, batch_seconds, swept):
    from notifications.models import Delivery, Notification

    counts = _counts()
    sms_keys = {
        str(key): pk
        for pk, key in Delivery.objects.filter(channel=Delivery.Channel.SMS).values_list("pk", "idempotency_key")
    }
    sent_sms_keys = {
        str(key)
        for key in Delivery.objects.filter(channel=Delivery.Channel.SMS, status=Delivery.Status.SENT).values_list(
            "idempotency_key", flat=True
        )
    }
    requests = Counter(_lines(sms_dir / "requests.log"))
    repeats = Counter(_lines(sms_dir / "repeats.log"))
    accepted = {path.name for path in (sms_dir / "accepted").iterdir()}
    texts_per_delivery = Counter(dict.fromkeys(accepted, 1))  # the provider accepts a key once
    unknown = accepted - set(sms_keys)
    sent_without_text = sent_sms_keys - accepted
    missing = counts["deliveries"] - counts["sent"] - counts["failed"]
    resumed = Delivery.objects.filter(attempts__gt=1).count()
    in_app_sent = Delivery.objects.filter(channel=Delivery.Channel.APP, status=Delivery.Status.SENT).count()

    print()
    print(
        f"Notifications under SIGKILL: {options.notifications} notifications, in-app + SMS "
        f"({options.sms_delay_ms:g} ms per text), celery prefork x{options.concurrency}, Redis broker, PostgreSQL"
    )
    print(f"  notifications                          {Notification.objects.count():>6}")
    print(f"  deliveries                             {counts['deliveries']:>6}")
    print(f"  sent                                   {counts['sent']:>6}   (in-app {in_app_sent})")
    print(f"  failed                                 {counts['failed']:>6}")
    print(f"  missing (neither sent nor failed)      {missing:>6}   (must be 0)")
    print(
        f"  killed after                           {killed_after:>6.1f} s with {at_kill['sent']} sent, "
        f"{at_kill['sending']} mid-send, {at_kill['pending']} pending"
    )
    print(f"  re-queued by the stuck sweep           {swept:>6}")
    print(f"  deliveries attempted more than once    {resumed:>6}")
    print(f"  SMS provider requests                  {sum(requests.values()):>6}")
    print(
        f"  SMS deliveries requested > once        {sum(1 for n in requests.values() if n > 1):>6}   "
        "(interrupted sends resumed, same idempotency key)"
    )
    print(
        f"  requests refused as repeats            {sum(repeats.values()):>6}   "
        "(each a second text without the idempotency key)"
    )
    print(f"  texts that reached a phone             {len(accepted):>6}")
    print(
        f"  SMS deliveries with more than one text {sum(1 for n in texts_per_delivery.values() if n > 1):>6}   "
        "(must be 0)"
    )
    print(f"  sent SMS deliveries without a text     {len(sent_without_text):>6}   (must be 0)")
    print(f"  texts for no known delivery            {len(unknown):>6}   (must be 0)")
    print(f"  whole batch, kill and recovery         {batch_seconds:>6.1f} s")
    correct = (
        missing == 0
        and counts["failed"] == 0
        and not unknown
        and not sent_without_text
        and Notification.objects.count() == options.notifications
    )
    print(f"Correctness: {'OK' if correct else 'FAILED'}")
    return 0 if correct else 1


# --- helpers ----------------------------------------------------------------------------------------


def _counts():
    from django.db.models import Count

    from notifications.models import Delivery

    by_status = dict(Delivery.objects.values_list("status").annotate(n=Count("pk")))
    counts = {status: by_status.get(status, 0) for status in ("pending", "sending", "sent", "failed")}
    counts["deliveries"] = sum(by_status.values())
    return counts


def _lines(path):
    return path.read_text().split() if path.exists() else []


def _start_worker(options, env, log_path, *, name):
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "o2o",
        "worker",
        "-Q",
        QUEUE,
        "--pool=prefork",
        f"--concurrency={options.concurrency}",
        "--prefetch-multiplier=1",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel=WARNING",
        f"--hostname={name}@%h",
    ]
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed with the file table
    # Its own session: os.killpg reaches the parent and every pool process at once.
    return subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(worker):
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def _give_up(why, log_path):
    print(f"Gave up: {why}. Counts: {_counts()}")
    print("Last lines of the worker log:")
    print("\n".join(log_path.read_text(errors="replace").splitlines()[-30:]))
    return 1


def _queue_length(broker):
    # kombu's Redis transport keeps one list per queue and priority step ("notifications", then
    # "notifications\x06\x163" ...).
    return sum(broker.llen(key) for key in broker.scan_iter(match=f"{QUEUE}*"))


def _clear_broker(broker):
    """Only the bench's own keys, in the bench's own database number."""
    for pattern in (f"{QUEUE}*", "unacked*", "_kombu.*"):
        for key in broker.scan_iter(match=pattern):
            broker.delete(key)


def _django_already_set_up():
    if "django" not in sys.modules:
        return False
    from django.apps import apps

    return apps.ready


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
