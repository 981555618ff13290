"""Scratch PostgreSQL databases for benchmarks, next to the one in DATABASE_URL: made fresh,
copied, dropped whatever happens."""

import sys
from urllib.parse import urlsplit, urlunsplit


def with_database(url, name):
    """`url` pointing at database `name` instead."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def admin_connection(url):
    import psycopg2

    parts = urlsplit(url)
    connection = psycopg2.connect(
        dbname="postgres",
        user=parts.username or "postgres",
        password=parts.password,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
    )
    connection.autocommit = True
    return connection


def _run(url, *statements):
    connection = admin_connection(url)
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def recreate_database(url, name):
    _run(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')


def copy_database(url, template, name):
    _run(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def drop_database(url, name):
    _run(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def close_django_connections():
    if "django" in sys.modules:
        from django.db import connections

        connections.close_all()
