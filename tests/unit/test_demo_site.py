"""crawlmap.demo.DemoSite as a real server: the address it binds and what it counts."""

import socket
import threading
import urllib.request

import pytest

from crawlmap.demo import DemoSite


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def test_it_binds_127_0_0_1_by_default() -> None:
    with DemoSite() as site:
        assert site.base == f"http://127.0.0.1:{site.port}"
        status, body = get(site.url("/echo/default"))
    assert status == 200
    assert b"Echo default" in body


def test_another_loopback_host_is_bound_and_named_in_its_urls() -> None:
    with DemoSite(host="127.0.0.77") as site:
        assert site.port != 0
        assert site.url("/echo/x") == f"http://127.0.0.77:{site.port}/echo/x"
        status, body = get(site.url("/echo/x"))
        # Bound to that address only: the same port on 127.0.0.1 is not this site.
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", site.port), timeout=1).close()
        sitemap = get(site.url("/sitemap.xml"))[1].decode()
    assert status == 200
    assert b"Echo x" in body
    assert f"<loc>http://127.0.0.77:{site.port}/</loc>" in sitemap
    assert site.hits["/echo/x"] == 1


def test_it_counts_the_most_requests_in_flight() -> None:
    with DemoSite(host="127.0.0.78") as site:
        threads = [
            threading.Thread(target=get, args=(site.url(f"/delay/500/p{i}"),)) for i in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        get(site.url("/echo/after"))
    assert site.max_in_flight == 3
