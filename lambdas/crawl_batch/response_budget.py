"""How much of the memory budget a response needs, reserved before its body is read.

A response hook on the crawl's httpx client (httpx calls it when the headers are in, before
the body is read) sets the running page's ticket (budget.current_ticket) to what reading this
body may hold: twice its Content-Length (the collector's buffer and the final copy) when the
body is not compressed, else twice the body cap (the decompressed size is unknown until read).
Responses without a body (1xx, 204, 304, and redirects, which are never read) need nothing.

Until lambdas/common/safe_http offers a per-chunk hook (asked for in /work/plan/CHANGES.md),
this is the finest the crawler can account from outside the body-reading code.
"""

from __future__ import annotations

import httpx

from lambdas.common.safe_http import DECODE_PIECE, REDIRECT_STATUSES
from lambdas.crawl_batch.budget import current_ticket

READ_PIECE = 64 * 1024  # the most one raw read adds before it is decoded and collected


def page_cap(max_bytes: int) -> int:
    """The most one page can hold while its body is read: the buffer, its final copy, one raw
    read and one decompressed piece in flight."""
    return 2 * max_bytes + READ_PIECE + DECODE_PIECE


def _bodiless(response: httpx.Response) -> bool:
    status = response.status_code
    if status < 200 or status in (204, 304):
        return True
    return status in REDIRECT_STATUSES and bool(response.headers.get("location", "").strip())


def bytes_needed(response: httpx.Response, max_bytes: int) -> int:
    if _bodiless(response):
        return 0
    encoding = response.headers.get("content-encoding", "").strip().lower()
    declared = response.headers.get("content-length", "").strip()
    if encoding in ("", "identity") and declared.isdigit() and int(declared) <= max_bytes:
        return 2 * int(declared) + READ_PIECE
    return page_cap(max_bytes)


async def reserve_for_response(response: httpx.Response) -> None:
    """httpx response hook: wait until the running page may hold what this body needs."""
    ticket = current_ticket.get()
    if ticket is None:
        return
    max_bytes = (ticket.cap - READ_PIECE - DECODE_PIECE) // 2
    await ticket.hold(bytes_needed(response, max_bytes))


def add_budget_hook(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The client, with reserve_for_response among its response hooks (once)."""
    hooks = client.event_hooks
    responses = list(hooks.get("response", []))
    if reserve_for_response not in responses:
        responses.append(reserve_for_response)
        client.event_hooks = {**hooks, "response": responses}
    return client
