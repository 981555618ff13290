from django.core.management.base import BaseCommand, CommandError

from payments.reconcile import run_checks


class Command(BaseCommand):
    help = "Check the ledger against payments, refunds, orders and vouchers; exit non-zero on any difference."

    def handle(self, *args, **options):
        problems = run_checks()
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} difference(s) found")
        self.stdout.write(self.style.SUCCESS("The books agree."))
