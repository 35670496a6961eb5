"""Search: the catalogue's derived views (a tantivy keyword index and paper vectors, kept from the change log)
and the queries over them (keyword, semantic, hybrid; similar papers; autocomplete).

Each process keeps its own views in a local folder (`[search] index_dir`); at most one process at a time
writes a folder (the lease), every other one reads it. `open_search` gives a process its `SearchService`.
"""

from bot.search.follower import Role, ViewUnavailable
from bot.search.service import SearchService, open_search

__all__ = ["Role", "SearchService", "ViewUnavailable", "open_search"]
