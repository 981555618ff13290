"""The start times a service's weekly rules and date rules give on a day (store-local).

Only the catalogue is read here; how many places are left is the orders app's business."""

import datetime as dt

from .catalogue_models import ServiceDateRule


def _local_times(rule_starts, rule_ends, step_minutes):
    day = dt.date(2000, 1, 3)
    at, last = dt.datetime.combine(day, rule_starts), dt.datetime.combine(day, rule_ends)
    while at <= last:
        yield at.time()
        at += dt.timedelta(minutes=step_minutes)


def slot_starts(service, date):
    """Every start time the service's rules give on `date` (store-local), as aware datetimes."""
    store = service.store
    tz = store.tzinfo
    if any(c.date == date for c in store.closed_dates.all()):
        return []
    rules = [r for r in service.date_rules.all() if r.date == date]
    if any(r.kind == ServiceDateRule.Kind.CLOSED for r in rules):
        return []
    times = set()
    for schedule in service.schedules.all():
        if schedule.weekday == date.weekday():
            times.update(_local_times(schedule.starts, schedule.ends, schedule.slot_minutes))
    for rule in rules:
        times.update(_local_times(rule.starts, rule.ends, rule.slot_minutes))
    return [dt.datetime.combine(date, t, tzinfo=tz) for t in sorted(times)]
