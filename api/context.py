"""What every resolver gets: the cluster, the alias, and a record of the requests made."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from elasticsearch import AsyncElasticsearch, NotFoundError

_MONTHLY = re.compile(r"(\d{4})\.(\d{2})")


@dataclass
class Context:
    """Per GraphQL request; resolvers search through :meth:`search` so every call is counted."""

    elasticsearch: AsyncElasticsearch
    alias: str
    search_took_ms: list[int] = field(default_factory=list)

    async def search(self, **request: Any) -> Any:
        """Search the events alias; a missing alias is an empty result, not an error."""
        response = await self.elasticsearch.search(
            index=self.alias, ignore_unavailable=True, allow_no_indices=True, **request
        )
        self.search_took_ms.append(int(response.get("took", 0)))
        return response

    async def months(self) -> list[datetime]:
        """The first instant of each month that has an index behind the alias, in order."""
        try:
            indices = await self.elasticsearch.indices.get_alias(name=self.alias)
        except NotFoundError:
            return []
        months = []
        for index in indices:
            match = _MONTHLY.fullmatch(index.removeprefix(f"{self.alias}-"))
            if match:
                months.append(datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC))
        return sorted(months)
