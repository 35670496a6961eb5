"""The PostgreSQL backend of the catalogue (psycopg 3, async): one database that many processes share.

`PostgresCatalogue.open(url)` connects, migrates and opens the pools; `migrate_database(url)` only creates or
upgrades the tables. `errors` turns the driver's exceptions into one line without the password.
"""

from bot.catalogue.postgres._connections import PoolSizes
from bot.catalogue.postgres.catalogue import PostgresCatalogue, migrate_database

__all__ = ["PoolSizes", "PostgresCatalogue", "migrate_database"]
