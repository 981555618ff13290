"""Build believable demo data (DESIGN §11). Idempotent: a second run changes nothing."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.seed import seed_all

DEMO_PASSWORD = "demo12345"


class Command(BaseCommand):
    help = "Create demo accounts, cities, categories, merchants and stores (with hours and photos)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--stores", type=int, default=None, help="how many demo stores to have (default 60; 100000 for benchmarks)"
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed, for repeatable data")
        parser.add_argument("--force", action="store_true", help="run even when DEBUG is off")

    def handle(self, *args, stores, seed: int, force, **options):
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo refuses to run with DEBUG off; pass --force if you mean it.")
        if stores is not None and stores < 0:
            raise CommandError("--stores must be 0 or more.")
        report = seed_all(stores=stores, seed=seed, password=DEMO_PASSWORD, log=self.stdout.write)
        s, added = report["summary"], report["added"]
        self.stdout.write(
            f"Cities {s['cities']}, categories {s['categories']} ({s['top_categories']} top), "
            f"merchants {s['merchants']} ({s['suspended']} suspended), "
            f"stores {s['stores']} ({s['discoverable']} discoverable), photos {s['photos']}."
        )
        self.stdout.write(
            f"Added {added['merchants']} merchants, {added['stores']} stores and {added['photos']} photos "
            f"in {report['seconds']:.1f} s."
        )
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"Accounts (password {DEMO_PASSWORD}):")
        for username, role in report["accounts"]:
            self.stdout.write(f"  {username:<8} {role}")
