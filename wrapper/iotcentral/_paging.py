"""Following a history's `nextLink`: which links are safe to follow, and the pagers.

The service describes the history operations as pageable (`x-ms-pageable`, `nextLink`). The link
is chosen by the server and the client sends its credential with every request, so a link is
followed only when it stays on the client's own origin (scheme, host and port of `base_url`):
anything else raises `PagingError` and nothing is sent. Its query is kept, except `api-version`,
which is always the client's own (as the Azure SDKs do). Paging is bounded: at most `max_pages`
pages, and a link that repeats an earlier one (a server that would page forever) is refused.

Each page is an ordinary history call: it leaves through the client's single `_send`, so retries,
timeouts, size bounds and logging apply to every page. Nothing is sent before iteration starts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx

from ._errors import InvalidArgumentError, PagingError
from ._models import CommandHistory, CommandResult

__all__ = [
    "DEFAULT_MAX_PAGES",
    "AsyncCommandHistoryPager",
    "CommandHistoryPager",
    "check_max_pages",
    "next_page_request",
]

#: The most pages one iteration follows by default (the service keeps one execution per command).
DEFAULT_MAX_PAGES = 100
_MAX_PAGES_LIMIT = 100_000


def check_max_pages(value: object) -> int:
    """`max_pages`, if it is an integer from 1 to 100000."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_PAGES_LIMIT:
        raise InvalidArgumentError(
            f"max_pages must be an integer from 1 to {_MAX_PAGES_LIMIT}, got {value!r}"
        )
    return value


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host, url.port or default


def next_page_request(
    page: CommandHistory, *, base_url: str, api_version: str, seen: set[str]
) -> dict[str, Any] | None:
    """The request (generated-builder style keyword arguments) for the page after `page`.

    None when `page` is the last one (no `nextLink`, or an empty one). Raises `PagingError` for a
    link to another origin, one with user info, or one already followed (`seen`, updated here).
    """
    link = page.next_link
    if not link:
        return None
    response = page.http_response
    assert response is not None  # pages always come from an answer
    try:
        url = response.request.url.join(link)  # a relative link is relative to this page
    except httpx.InvalidURL:
        raise PagingError(
            "the answer's nextLink is not a valid URL; not followed", response=response
        ) from None
    if _origin(url) != _origin(httpx.URL(base_url)) or url.userinfo:
        raise PagingError(
            f"the answer's nextLink points to {url.scheme}://{url.netloc.decode('ascii')},"
            f" not to the client's origin ({base_url}); not followed: the credential never"
            " goes to another host",
            response=response,
        )
    key = str(url.copy_with(fragment=None))
    if key in seen:
        raise PagingError(
            "the answer's nextLink repeats an earlier page; not followed (paging would not end)",
            response=response,
        )
    seen.add(key)
    params = [(k, v) for k, v in url.params.multi_items() if k != "api-version"]
    params.append(("api-version", api_version))
    return {
        "method": "get",
        "url": str(url.copy_with(query=None, fragment=None)),
        "params": params,
    }


def _too_many(page: CommandHistory, max_pages: int) -> PagingError:
    assert page.http_response is not None
    return PagingError(
        f"the history has more than max_pages={max_pages} pages; stopped there"
        " (pass a larger max_pages to read further)",
        response=page.http_response,
    )


class CommandHistoryPager:
    """The executions of a command's history across every page (synchronous).

    Iterate it for the `CommandResult`s of all pages; `by_page()` gives the pages themselves
    (`CommandHistory`, each with its own `next_link` and HTTP response). Each iteration starts
    again from the first page, and sends nothing until it starts.
    """

    def __init__(
        self,
        first: Callable[[], CommandHistory],
        following: Callable[[dict[str, Any], int], CommandHistory],
        *,
        base_url: str,
        api_version: str,
        max_pages: int,
    ) -> None:
        self._first = first
        self._following = following
        self._base_url = base_url
        self._api_version = api_version
        self._max_pages = max_pages

    def by_page(self) -> Iterator[CommandHistory]:
        """Every page, in order, following `nextLink` (at most `max_pages`)."""
        seen: set[str] = set()
        page = self._first()
        count = 1
        while True:
            yield page
            request = next_page_request(
                page, base_url=self._base_url, api_version=self._api_version, seen=seen
            )
            if request is None:
                return
            if count >= self._max_pages:
                raise _too_many(page, self._max_pages)
            count += 1
            page = self._following(request, count)

    def __iter__(self) -> Iterator[CommandResult]:
        for page in self.by_page():
            yield from page


class AsyncCommandHistoryPager:
    """The executions of a command's history across every page (asyncio).

    `async for` it for the `CommandResult`s of all pages; `by_page()` is an async iterator of the
    pages. Like `CommandHistoryPager`, each iteration starts from the first page.
    """

    def __init__(
        self,
        first: Callable[[], Awaitable[CommandHistory]],
        following: Callable[[dict[str, Any], int], Awaitable[CommandHistory]],
        *,
        base_url: str,
        api_version: str,
        max_pages: int,
    ) -> None:
        self._first = first
        self._following = following
        self._base_url = base_url
        self._api_version = api_version
        self._max_pages = max_pages

    async def by_page(self) -> AsyncIterator[CommandHistory]:
        """Every page, in order, following `nextLink` (at most `max_pages`)."""
        seen: set[str] = set()
        page = await self._first()
        count = 1
        while True:
            yield page
            request = next_page_request(
                page, base_url=self._base_url, api_version=self._api_version, seen=seen
            )
            if request is None:
                return
            if count >= self._max_pages:
                raise _too_many(page, self._max_pages)
            count += 1
            page = await self._following(request, count)

    async def __aiter__(self) -> AsyncIterator[CommandResult]:
        async for page in self.by_page():
            for result in page:
                yield result
