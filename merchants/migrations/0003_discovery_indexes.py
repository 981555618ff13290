"""PostgreSQL-only indexes for store discovery (docs/geo-search.md).

- `store_earth_gist`: GiST on `ll_to_earth(latitude, longitude)` (extensions cube and
  earthdistance) serves the `earth_box(...) @>` prefilter of nearby search. `ll_to_earth` is
  declared IMMUTABLE, which PostgreSQL requires of an index expression.
- `store_search_trgm`: GIN trigram index on `search_text` (extension pg_trgm) serves the
  `LIKE '%term%'` of keyword search.

Other databases (SQLite) get nothing here: they use the (latitude, longitude) B-tree of 0001.
The indexes are not in the model state, so `makemigrations` neither sees nor removes them.
"""

from django.db import migrations

EXTENSIONS = ("cube", "earthdistance", "pg_trgm")

CREATE_INDEXES = [
    "CREATE INDEX IF NOT EXISTS store_earth_gist ON merchants_store USING gist (ll_to_earth(latitude, longitude))",
    "CREATE INDEX IF NOT EXISTS store_search_trgm ON merchants_store USING gin (search_text gin_trgm_ops)",
]
DROP_INDEXES = [
    "DROP INDEX IF EXISTS store_search_trgm",
    "DROP INDEX IF EXISTS store_earth_gist",
]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for extension in EXTENSIONS:
        # cube and pg_trgm are trusted extensions; earthdistance needs a superuser (or an
        # administrator running this statement once) on managed PostgreSQL services.
        schema_editor.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")
    for statement in CREATE_INDEXES:
        schema_editor.execute(statement)


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # The extensions stay: other database objects may use them.
    for statement in DROP_INDEXES:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("merchants", "0002_catalogue"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
