"""The demo data builders (DESIGN §11), one function per part, called in order by `seed_all`.

Every part is idempotent: it is keyed by something stable (a username, a slug, how many stores a
demo merchant already has) and adds only what is missing, so a second run adds nothing and a run
with a larger `--stores` adds only the missing stores. Random numbers come from generators seeded
with `--seed` and, below the plan, the merchant's index, so merchant 7 and its stores come out the
same whatever `--stores` says and whichever run creates them. Dates (approvals, closures) are
relative to the day of the run.

The first `PHOTO_STORES` stores are written through the merchants services, as a merchant would
write them, and get photos through the real upload pipeline; the rest are bulk inserted, which is
what makes `--stores 100000` take a minute rather than an hour. A later part (catalogue,
campaigns, orders, reviews) is one more function here and one more line in `seed_all`.
"""

import datetime as dt
import functools
import itertools
import math
import random
import time
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, reset_queries, transaction
from django.db.models import Count
from django.utils import timezone

from demo import data
from merchants import catalogue_services
from merchants.models import (
    Category,
    City,
    Deal,
    Merchant,
    MerchantMember,
    Service,
    Store,
    StoreClosedDate,
    StoreHours,
    StorePhoto,
)
from merchants.services import merchant_suspend, store_hours_set, store_photo_add, store_save
from o2o.images import make_placeholder_photo

DEFAULT_STORES = 60
# The first stores get generated photos and go through the services; the rest are bulk inserted.
PHOTO_STORES = 60
PHOTOS_PER_STORE = len(data.PHOTO_CAPTIONS)
# Stores per transaction (and per INSERT where the database allows that many parameters).
BATCH_STORES = 2000
HOURS_BATCH = 5000
HOURS_COLUMNS = ("store", "weekday", "opens", "closes")
# The merchant (by index) that is suspended, so that its stores vanish from discovery.
SUSPENDED_MERCHANT = 3
# The first merchants are pinned, so that even a small run shows every city and the first merchant,
# the one `owner` and `clerk` work for, is a full example: (city, sub-category, number of stores).
PINNED_MERCHANTS = {0: ("shanghai", "hotpot", 3), 1: ("hangzhou", None, None), 2: ("chengdu", None, None)}
STORES_PER_MERCHANT = ((1, 2, 3), (55, 30, 15))  # sizes and their weights
# Half the stores cluster around a neighbourhood, half spread around the city centre.
CITY_SIGMA_KM, AREA_SIGMA_KM, MAX_KM = 5.0, 1.2, 25.0
UNPUBLISHED_CHANCE = 0.03
CLOSED_DATES_CHANCE = 0.1
CUSTOM_COMMISSION_CHANCE = 0.1
# Bayesian prior of the seeded ratings, (C·m + Σr) / (m + n) as in DESIGN §9.
RATING_PRIOR_MEAN, RATING_PRIOR_WEIGHT = 4.3, 20

CITY_DATA = {city["slug"]: city for city in data.CITIES}
SUBCATEGORIES = {child["slug"]: (child, top) for top in data.CATEGORIES for child in top["children"]}


def _parse_profiles(profiles):
    def spans(pairs):
        return [(dt.time.fromisoformat(opens), dt.time.fromisoformat(closes)) for opens, closes in pairs]

    return {
        name: {"weekdays": spans(p["weekdays"]), "weekend": spans(p.get("weekend", p["weekdays"]))}
        for name, p in profiles.items()
    }


HOURS_PROFILES = _parse_profiles(data.HOURS_PROFILES)


def ensure_user(username, password_hash, **fields):
    """The user called `username`; made when missing, with the hash `password_hash()` returns."""
    User = get_user_model()
    user, _created = User.objects.get_or_create(username=username, defaults={**fields, "password": password_hash})
    return user


@transaction.atomic
def seed_accounts(password_hash):
    accounts = [
        ("admin", "platform admin", {"is_staff": True, "is_superuser": True, "display_name": "Admin"}),
        ("alice", "consumer", {"display_name": "Alice", "email": "alice@example.com", "phone": "13800000001"}),
        ("owner", "merchant owner", {"display_name": "Owner", "email": "owner@example.com"}),
        ("clerk", "merchant clerk", {"display_name": "Clerk"}),
    ]
    users = {}
    for username, _role, fields in accounts:
        users[username] = ensure_user(username, password_hash, **fields)
    return users, [(username, role) for username, role, _fields in accounts]


@transaction.atomic
def seed_cities():
    """Shanghai, Hangzhou and Chengdu; an existing city (found by slug) is left as it is."""
    for position, city in enumerate(data.CITIES):
        City.objects.get_or_create(
            slug=city["slug"],
            defaults={
                "name": city["name"],
                "name_en": city["name_en"],
                "latitude": city["latitude"],
                "longitude": city["longitude"],
                "timezone": "Asia/Shanghai",
                "position": position,
            },
        )
    return City.objects.in_bulk(list(CITY_DATA), field_name="slug")


@transaction.atomic
def seed_categories():
    """Seven top categories and their sub-categories; existing ones (by slug) are left as they are."""
    for position, top in enumerate(data.CATEGORIES):
        rate = top["commission_rate"]
        parent, _created = Category.objects.get_or_create(
            slug=top["slug"],
            defaults={
                "name": top["name"],
                "name_en": top["name_en"],
                "icon": top["icon"],
                "position": position,
                "review_aspects": top["aspects"],
                "commission_rate": Decimal(rate) if rate else None,
            },
        )
        for child_position, child in enumerate(top["children"]):
            Category.objects.get_or_create(
                slug=child["slug"],
                defaults={
                    "name": child["name"],
                    "name_en": child["name_en"],
                    "icon": child["icon"],
                    "parent": parent,
                    "position": child_position,
                },
            )
    slugs = [top["slug"] for top in data.CATEGORIES] + list(SUBCATEGORIES)
    # With parents loaded: Store.build_search_text reads them for every store.
    return Category.objects.select_related("parent").in_bulk(slugs, field_name="slug")


# Planning: which merchants exist for a number of stores, and what each one and its stores are.


@dataclass(frozen=True)
class MerchantShape:
    """What is decided about merchant `index` before anything else: where, what and how big."""

    index: int
    first_store: int  # index of its first store among all demo stores
    store_count: int  # how many of its stores the target number of stores asks for
    city: str
    category: str  # a sub-category slug

    @property
    def owner_username(self):
        return "owner" if self.index == 0 else f"owner{self.index + 1}"


@dataclass(frozen=True)
class MerchantSpec:
    brand: str
    contact_name: str
    contact_phone: str
    description: str
    commission_rate: Decimal | None
    settlement_account_name: str
    settlement_account_number: str
    approved_days_ago: int


@dataclass(frozen=True)
class StoreSpec:
    fields: dict  # what merchants.services.store_save takes, less city and category
    figures: dict  # the denormalised rating and sales figures
    hours: dict  # weekday -> [(opens, closes)]
    closed_dates: list  # [(date, note)]


def plan_merchants(seed, total_stores):
    """The demo merchants that hold the first `total_stores` stores, the last one possibly cut short."""
    shapes, first, index = [], 0, 0
    sizes, size_weights = STORES_PER_MERCHANT
    city_slugs, city_weights = list(CITY_DATA), [c["weight"] for c in data.CITIES]
    sub_slugs, sub_weights = list(SUBCATEGORIES), [child["weight"] for child, _top in SUBCATEGORIES.values()]
    # One sequence for the whole plan: merchant n's shape depends on the seed and n only, so a plan
    # for more stores starts with the plan for fewer.
    rng = random.Random(f"{seed}:plan")
    while first < total_stores:
        size = rng.choices(sizes, weights=size_weights)[0]
        city = rng.choices(city_slugs, weights=city_weights)[0]
        category = rng.choices(sub_slugs, weights=sub_weights)[0]
        pinned_city, pinned_category, pinned_size = PINNED_MERCHANTS.get(index, (None, None, None))
        city, category, size = pinned_city or city, pinned_category or category, pinned_size or size
        count = min(size, total_stores - first)
        shapes.append(MerchantShape(index=index, first_store=first, store_count=count, city=city, category=category))
        first += count
        index += 1
    return shapes


def _mobile(rng):
    return rng.choice(data.MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def merchant_plan(seed, shape, today):
    """The merchant's profile and its planned stores, in order, drawn from one generator.

    Each store draws what it needs after the profile and the stores before it, so the first k
    stores come out the same whether k or more are planned.
    """
    rng = random.Random(f"{seed}:merchant:{shape.index}")
    spec = _merchant_spec(rng, shape)
    return spec, _store_specs(rng, shape, spec.brand, today)


def _merchant_spec(rng, shape):
    sub, top = SUBCATEGORIES[shape.category]
    brand = rng.choice(sub["brands"]) + rng.choice(sub["suffixes"])
    custom_rate = rng.random() < CUSTOM_COMMISSION_CHANCE
    rate = rng.choice([Decimal("0.0450"), Decimal("0.0500"), Decimal("0.0550")])
    return MerchantSpec(
        brand=brand,
        contact_name=rng.choice(data.SURNAMES) + rng.choice(data.GIVEN_NAMES),
        contact_phone=_mobile(rng),
        description=rng.choice(sub["descriptions"]),
        commission_rate=rate if custom_rate else None,
        settlement_account_name=f"{CITY_DATA[shape.city]['name']}{brand}{top['company']}",
        settlement_account_number=rng.choice(data.BANK_PREFIXES) + f"{rng.randrange(10**15):015d}",
        approved_days_ago=rng.randint(20, 900),
    )


def _km(lat1, lng1, lat2, lng2):
    """Great-circle distance (haversine) in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def _position(rng, city):
    """A point near a neighbourhood or the centre, never more than MAX_KM from the centre."""
    if rng.random() < 0.5:
        _name, _district, lat0, lng0, _roads = rng.choice(city["areas"])
        sigma = AREA_SIGMA_KM
    else:
        lat0, lng0, sigma = city["latitude"], city["longitude"], CITY_SIGMA_KM
    km_per_lng = 111.32 * math.cos(math.radians(lat0))
    for _attempt in range(20):
        lat = lat0 + rng.gauss(0, sigma) / 110.57
        lng = lng0 + rng.gauss(0, sigma) / km_per_lng
        if _km(city["latitude"], city["longitude"], lat, lng) <= MAX_KM:
            return round(lat, 6), round(lng, 6)
    return round(lat0, 6), round(lng0, 6)


def _nearest_area(city, lat, lng):
    scale = math.cos(math.radians(lat)) ** 2
    return min(city["areas"], key=lambda area: (area[2] - lat) ** 2 + (area[3] - lng) ** 2 * scale)


def _landline(rng, city):
    code = city["area_code"]
    if len(code) == 3:  # 021, 028: eight-digit numbers
        return f"{code}-{rng.choice('56')}{rng.randrange(10**7):07d}"
    return f"{code}-8{rng.randrange(10**7):07d}"


def _weekly_hours(rng, sub):
    profile = HOURS_PROFILES[rng.choice(sub["hours"])]
    closed_day = rng.randrange(5) if rng.random() < sub["closed_day_chance"] else None
    return {
        weekday: profile["weekend"] if weekday >= 5 else profile["weekdays"]
        for weekday in range(7)
        if weekday != closed_day
    }


def _closed_dates(rng, today):
    if rng.random() >= CLOSED_DATES_CHANCE:
        return []
    note = rng.choice(data.CLOSED_DATE_NOTES)
    days = sorted({rng.randint(3, 60) for _ in range(rng.randint(1, 2))})
    return [(today + dt.timedelta(days=d), note) for d in days]


def _figures(rng):
    review_count = max(1, min(int(rng.lognormvariate(4.0, 1.2)), 20_000))
    mean = rng.triangular(3.4, 4.95, 4.5)
    rating = (RATING_PRIOR_MEAN * RATING_PRIOR_WEIGHT + mean * review_count) / (RATING_PRIOR_WEIGHT + review_count)
    return {
        "rating": Decimal(f"{min(max(rating, 3.5), 4.9):.2f}"),
        "rating_mean": Decimal(f"{mean:.2f}"),
        "review_count": review_count,
        "sales_count": review_count * rng.randint(3, 12) + rng.randint(0, 50),
    }


def _store_specs(rng, shape, brand, today):
    city = CITY_DATA[shape.city]
    sub, _top = SUBCATEGORIES[shape.category]
    specs, branches = [], set()
    for slot in range(shape.store_count):
        lat, lng = _position(rng, city)
        area, district, _lat, _lng, roads = _nearest_area(city, lat, lng)
        road = rng.choice(roads)
        branch = next((b for b in (area, road, f"{area}二", f"{road}二") if b not in branches), f"{area}{slot + 1}号")
        branches.add(branch)
        lo, hi = sub["price"]
        published = rng.random() >= UNPUBLISHED_CHANCE
        fields = {
            "name": f"{brand} · {branch}店",
            "address": f"{district}{road}{rng.randint(1, 999)}号{rng.choice(data.ADDRESS_DETAILS)}",
            "latitude": lat,
            "longitude": lng,
            "phone": _landline(rng, city) if rng.random() < 0.8 else _mobile(rng),
            "description": rng.choice(sub["descriptions"]),
            "tags": ", ".join(rng.sample(sub["tags"], k=rng.randint(2, 4))),
            "avg_price": Decimal(rng.randint(lo, hi)).quantize(Decimal("0.01")),
            # The first merchant is the demo's showcase: all of its stores are published.
            "is_published": published or shape.index == 0,
        }
        specs.append(
            StoreSpec(
                fields=fields,
                figures=_figures(rng),
                hours=_weekly_hours(rng, sub),
                closed_dates=_closed_dates(rng, today),
            )
        )
    return specs


# Writing.


def _demo_merchants(shapes):
    """Merchant id of each planned merchant that exists, found by its owner's username."""
    wanted = {shape.owner_username: shape.index for shape in shapes}
    found = {}
    rows = (
        MerchantMember.objects.filter(role=MerchantMember.Role.OWNER, user__username__startswith="owner")
        .order_by("merchant_id")
        .values_list("user__username", "merchant_id")
    )
    for username, merchant_id in rows:
        if username in wanted:
            found.setdefault(wanted[username], merchant_id)
    return found


def _ensure_owners(shapes, specs, password_hash):
    """The owner account of each new merchant; `owner` exists already, the others are made."""
    User = get_user_model()
    names = {shape.index: shape.owner_username for shape in shapes}
    users = {u.username: u for u in User.objects.filter(username__in=names.values())}
    missing = [
        User(
            username=name,
            password=password_hash(),
            display_name=specs[index].contact_name,
            email=f"{name}@example.com",
        )
        for index, name in names.items()
        if name not in users
    ]
    User.objects.bulk_create(missing, batch_size=BATCH_STORES)
    users.update((u.username, u) for u in missing)
    return {index: users[name] for index, name in names.items()}


def _owner_of(merchant_id):
    members = MerchantMember.objects.select_related("user").filter(
        merchant_id=merchant_id, role=MerchantMember.Role.OWNER
    )
    member = members.order_by("pk").first()
    return member.user if member else None


def _insert_hours(rows):
    """Insert StoreHours rows given as (store id, weekday, opens, closes), in multi-row INSERTs.

    Hours are most of the rows of a big run (seven or more per store). Making a model instance for
    each and preparing every value through bulk_create took longer than the rest of the run; plain
    INSERTs with the database's own time format take a third of that.
    """
    ops = connection.ops
    table = ops.quote_name(StoreHours._meta.db_table)
    columns = ", ".join(ops.quote_name(StoreHours._meta.get_field(f).column) for f in HOURS_COLUMNS)
    adapt_time = functools.cache(ops.adapt_timefield_value)
    per_insert = min(HOURS_BATCH, (connection.features.max_query_params or 65535) // len(HOURS_COLUMNS))
    placeholder = f"({', '.join(['%s'] * len(HOURS_COLUMNS))})"
    rows = iter(rows)
    with connection.cursor() as cursor:
        while chunk := list(itertools.islice(rows, per_insert)):
            params = [v for store_id, day, o, c in chunk for v in (store_id, day, adapt_time(o), adapt_time(c))]
            values = ", ".join([placeholder] * len(chunk))
            # Table and column names come from the model, never from input.
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {values}", params)  # noqa: S608


def _seed_batch(batch, *, seed, cities, categories, users, password_hash, merchant_ids):
    """Create the missing merchants and stores of `batch`: [(shape, merchant id or None, stores it has)]."""
    today, now = timezone.localdate(), timezone.now()
    plans = {shape.index: merchant_plan(seed, shape, today) for shape, _mid, _have in batch}
    specs = {index: spec for index, (spec, _stores) in plans.items()}

    new_shapes = [shape for shape, merchant_id, _have in batch if merchant_id is None]
    owners = _ensure_owners(new_shapes, specs, password_hash)
    new_merchants = {}
    for shape in new_shapes:
        spec = specs[shape.index]
        new_merchants[shape.index] = Merchant(
            name=spec.brand,
            category=categories[shape.category],
            status=Merchant.Status.APPROVED,
            description=spec.description,
            contact_name=spec.contact_name,
            contact_phone=spec.contact_phone,
            commission_rate=spec.commission_rate,
            settlement_account_name=spec.settlement_account_name,
            settlement_account_number=spec.settlement_account_number,
            approved_at=now - dt.timedelta(days=spec.approved_days_ago),
        )
    Merchant.objects.bulk_create(new_merchants.values(), batch_size=BATCH_STORES)
    MerchantMember.objects.bulk_create(
        [
            MerchantMember(user=owners[index], merchant=merchant, role=MerchantMember.Role.OWNER)
            for index, merchant in new_merchants.items()
        ],
        batch_size=BATCH_STORES,
    )
    merchant_ids.update((index, merchant.pk) for index, merchant in new_merchants.items())
    merchants = dict(new_merchants)
    existing = Merchant.objects.in_bulk([mid for _shape, mid, _have in batch if mid is not None])
    merchants.update((shape.index, existing[mid]) for shape, mid, _have in batch if mid is not None)

    bulk, closed, added = [], [], 0
    for shape, _mid, have in batch:
        merchant = merchants[shape.index]
        category, city = categories[shape.category], cities[shape.city]
        for slot, spec in enumerate(plans[shape.index][1]):
            if slot < have:
                continue
            added += 1
            if shape.first_store + slot < PHOTO_STORES:
                # The way a merchant makes a store, so the showcase stores pass full validation.
                owner = owners.get(shape.index) or _owner_of(merchant.pk)
                store = store_save(merchant=merchant, acting_user=owner, city=city, category=category, **spec.fields)
                store_hours_set(store=store, hours=spec.hours, acting_user=owner)
                # Figures are the review and order services' to keep; demo data sets them directly.
                Store.objects.filter(pk=store.pk).update(**spec.figures)
            else:
                store = Store(merchant=merchant, city=city, category=category, **spec.fields, **spec.figures)
                store.search_text = store.build_search_text()
                bulk.append((store, spec))
            closed += [StoreClosedDate(store=store, date=day, note=note) for day, note in spec.closed_dates]

    Store.objects.bulk_create([store for store, _spec in bulk], batch_size=BATCH_STORES)
    _insert_hours(
        (store.pk, weekday, opens, closes)
        for store, spec in bulk
        for weekday, spans in spec.hours.items()
        for opens, closes in spans
    )
    StoreClosedDate.objects.bulk_create(closed, batch_size=HOURS_BATCH)

    if SUSPENDED_MERCHANT in new_merchants:
        merchant_suspend(
            merchant=new_merchants[SUSPENDED_MERCHANT], reason=data.SUSPENSION_REASON, acting_user=users["admin"]
        )
    return len(new_merchants), added


def seed_merchants(shapes, *, seed, cities, categories, users, password_hash, log):
    """Approved merchants with an owner each and their 1–3 stores, hours and closures; only what is missing.

    Returns the merchant id of every planned merchant and how many merchants and stores were added.
    """
    merchant_ids = _demo_merchants(shapes)
    store_counts = dict(Store.objects.order_by().values_list("merchant_id").annotate(n=Count("pk")))
    todo = []
    for shape in shapes:
        merchant_id = merchant_ids.get(shape.index)
        have = store_counts.get(merchant_id, 0) if merchant_id is not None else 0
        if merchant_id is None or have < shape.store_count:
            todo.append((shape, merchant_id, have))

    if todo and 0 in merchant_ids:
        brand = merchant_plan(seed, shapes[0], timezone.localdate())[0].brand
        name = Merchant.objects.filter(pk=merchant_ids[0]).values_list("name", flat=True).get()
        if name != brand:
            log(f"Warning: the first demo merchant is {name}, not {brand}: was the demo made with another --seed?")

    missing = sum(shape.store_count - have for shape, _mid, have in todo)
    merchants_added = stores_added = 0
    batch, batch_stores = [], 0
    for i, item in enumerate(todo):
        batch.append(item)
        batch_stores += item[0].store_count - item[2]
        if batch_stores < BATCH_STORES and i < len(todo) - 1:
            continue
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # Demo data can be made again: commit without waiting for the WAL to reach the disk.
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            m, s = _seed_batch(
                batch,
                seed=seed,
                cities=cities,
                categories=categories,
                users=users,
                password_hash=password_hash,
                merchant_ids=merchant_ids,
            )
        merchants_added, stores_added = merchants_added + m, stores_added + s
        reset_queries()  # with DEBUG on, Django keeps every query's SQL: megabytes per batch
        batch, batch_stores = [], 0
        if missing >= 10 * BATCH_STORES:
            log(f"  stores {stores_added:,}/{missing:,}")

    if 0 in merchant_ids:
        # The promised clerk of the first merchant (DESIGN §11); restored if it went missing.
        MerchantMember.objects.get_or_create(
            user=users["clerk"], merchant_id=merchant_ids[0], defaults={"role": MerchantMember.Role.CLERK}
        )
    return merchant_ids, merchants_added, stores_added


def _drawable(text):
    """`text` without accents (Café -> Cafe): Pillow's bundled font, the fallback, has no glyphs for them."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def seed_store_photos(shapes, merchant_ids, *, seed):
    """Two generated photos (the first is the cover) for each of the first PHOTO_STORES stores."""
    early = [shape for shape in shapes if shape.first_store < PHOTO_STORES and shape.index in merchant_ids]
    ids = [merchant_ids[shape.index] for shape in early]
    by_merchant = defaultdict(list)
    stores = (
        Store.objects.filter(merchant_id__in=ids)
        .select_related("category")
        .annotate(n_photos=Count("photos"))
        .order_by("pk")
    )
    for store in stores:
        by_merchant[store.merchant_id].append(store)
    owners = {
        member.merchant_id: member.user
        for member in MerchantMember.objects.filter(merchant_id__in=ids, role=MerchantMember.Role.OWNER)
        .select_related("user")
        .order_by("-pk")
    }
    added = 0
    for shape in early:
        merchant_id = merchant_ids[shape.index]
        for slot, store in enumerate(by_merchant[merchant_id]):
            if shape.first_store + slot >= PHOTO_STORES:
                break
            for position in range(store.n_photos, PHOTOS_PER_STORE):
                caption, text = data.PHOTO_CAPTIONS[position]
                photo_seed = random.Random(f"{seed}:photo:{shape.index}:{slot}:{position}").getrandbits(32)
                upload = make_placeholder_photo(seed=photo_seed, text=_drawable(f"{store.category.name_en} · {text}"))
                store_photo_add(store=store, upload=upload, caption=caption, acting_user=owners.get(merchant_id))
                added += 1
    return added


def summarise():
    """What the database holds now, for the command's closing lines."""
    return {
        "cities": City.objects.count(),
        "categories": Category.objects.count(),
        "top_categories": Category.objects.filter(parent=None).count(),
        "merchants": Merchant.objects.count(),
        "suspended": Merchant.objects.filter(status=Merchant.Status.SUSPENDED).count(),
        "stores": Store.objects.count(),
        "discoverable": Store.objects.discoverable().count(),
        "photos": StorePhoto.objects.count(),
    }


def seed_all(*, stores=None, seed=1, password, log=print):
    """Run every part in order; `stores` is the number of demo stores wanted (default 60)."""
    started = time.perf_counter()
    # One hash for every demo account (they share the password), computed only when an account is
    # made: PBKDF2 takes a third of a second, and a second run makes none.
    password_hash = functools.cache(functools.partial(make_password, password))
    users, accounts = seed_accounts(password_hash)
    cities = seed_cities()
    categories = seed_categories()
    shapes = plan_merchants(seed, DEFAULT_STORES if stores is None else stores)
    merchant_ids, merchants_added, stores_added = seed_merchants(
        shapes, seed=seed, cities=cities, categories=categories, users=users, password_hash=password_hash, log=log
    )
    photos_added = seed_store_photos(shapes, merchant_ids, seed=seed)
    seed_catalogue()
    return {
        "accounts": accounts,
        "summary": summarise(),
        "added": {"merchants": merchants_added, "stores": stores_added, "photos": photos_added},
        "seconds": time.perf_counter() - started,
    }


# --- catalogue: services and deals for the showcase stores ---------------------------------------

CATALOGUE_STORES = 24

# (service name, price, prepayment, deposit, minutes, capacity, per person, policy) by top category
SERVICE_SHAPES = {
    "food": ("包间预订 · Private room", "300.00", "deposit", "100.00", 120, 2, False, "fair"),
    "beauty": ("洗剪吹 · Cut and style", "128.00", "full", "0.00", 60, 3, False, "flexible"),
    "spa": ("全身按摩 60 分钟 · Full-body massage", "198.00", "full", "0.00", 60, 4, False, "moderate"),
    "ktv": ("中包 3 小时 · Medium room, 3 h", "268.00", "deposit", "80.00", 180, 3, False, "strict"),
    "fitness": ("团课 · Group class", "69.00", "full", "0.00", 60, 12, True, "flexible"),
    "home": ("日常保洁 3 小时 · Home cleaning, 3 h", "150.00", "full", "0.00", 180, 2, False, "fair"),
    "education": ("体验课 · Trial lesson", "99.00", "none", "0.00", 45, 6, True, "none"),
}

# (title, price, original price, stock or None, contents) by top category
DEAL_SHAPES = {
    "food": (
        "双人套餐 · Set for two",
        "168.00",
        "258.00",
        100,
        [("招牌锅底", 1), ("精选肉类拼盘", 1), ("时令蔬菜", 2)],
    ),
    "beauty": ("洗剪吹代金券 · Cut voucher", "88.00", "128.00", None, [("洗剪吹", 1)]),
    "spa": ("足疗 90 分钟 · Foot massage 90 min", "139.00", "238.00", 50, [("足疗", 1), ("茶点", 1)]),
    "ktv": ("欢唱 3 小时 · 3 hours of singing", "99.00", "199.00", 80, [("中包 3 小时", 1), ("果盘", 1)]),
    "fitness": ("次卡 10 次 · 10-visit pass", "399.00", "690.00", None, [("健身房入场", 10)]),
    "home": ("深度保洁 · Deep cleaning", "299.00", "399.00", 30, [("深度保洁 4 小时", 1)]),
    "education": ("4 节体验课 · 4 trial lessons", "199.00", "396.00", 40, [("体验课", 4)]),
}


def _top_slug(category):
    return category.parent.slug if category.parent_id else category.slug


def seed_catalogue():
    """A bookable service with a weekly schedule and a deal for the first showcase stores;
    through the console's own services, so the data passes the same rules. Idempotent: a
    store that already has a service or a deal is left alone."""
    stores = (
        Store.objects.filter(is_published=True, merchant__status="approved")
        .select_related("merchant", "category__parent")
        .order_by("pk")[:CATALOGUE_STORES]
    )
    added = 0
    for store in stores:
        top = _top_slug(store.category)
        owner = store.merchant.members.filter(role="owner").select_related("user").first()
        actor = owner.user if owner else None
        shape = SERVICE_SHAPES.get(top)
        if shape and not Service.objects.filter(store=store).exists():
            name, price, prepay, deposit, minutes, capacity, per_person, policy = shape
            service = catalogue_services.service_save(
                merchant=store.merchant,
                acting_user=actor,
                store=store,
                name=name,
                price=Decimal(price),
                prepayment=prepay,
                deposit=Decimal(deposit),
                duration_minutes=minutes,
                capacity=capacity,
                capacity_per_person=per_person,
                min_party=1,
                max_party=8 if not per_person else 4,
                booking_window_days=14,
                min_notice_minutes=60,
                cancellation_policy=policy,
            )
            rules = [(day, dt.time(10), dt.time(20), 60) for day in range(7)]
            catalogue_services.service_schedules_set(service=service, rules=rules, acting_user=actor)
            added += 1
        deal_shape = DEAL_SHAPES.get(top)
        if deal_shape and not Deal.objects.filter(store=store).exists():
            title, price, original, stock, contents = deal_shape
            catalogue_services.deal_save(
                merchant=store.merchant,
                acting_user=actor,
                store=store,
                title=title,
                price=Decimal(price),
                original_price=Decimal(original),
                stock=stock,
                per_user_limit=5,
                max_per_order=5,
                valid_days=90,
                contents=[
                    {
                        "name": n,
                        "quantity": q,
                        "price": str((Decimal(original) / len(contents)).quantize(Decimal("0.01"))),
                    }
                    for n, q in contents
                ],
            )
            added += 1
    return added
