"""CrawlBatch keeps its event loop and client warm across invocations, as a warm Lambda
container does: consecutive batches reuse one kept-alive connection, concurrent batches each
get a client of their own, and release_warm_resources() closes them."""

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lambdas.common.models import CrawlBatchInput, PageTask
from lambdas.common.settings import Settings
from lambdas.crawl_batch.core import crawl_batch
from lambdas.crawl_batch.warm import release_warm_resources

LOCAL = Settings(allow_private_networks=True, obey_robots=False)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.peers: list[tuple[str, int]] = []
        self.cookies_sent: list[str | None] = []
        self.lock = threading.Lock()
        self.hold = threading.Event()  # set: answer at once; clear: wait for it (concurrency)
        self.hold.set()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.peers.append(self.client_address)
            self.server.cookies_sent.append(self.headers.get("Cookie"))
        self.server.hold.wait(5)
        body = b"<html><head><title>warm</title></head><body><h1>hi</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "session=abc; Path=/")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def _server() -> Iterator[_Server]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _batch(server: _Server, batch_id: int) -> CrawlBatchInput:
    url = f"http://127.0.0.1:{server.server_address[1]}/page-{batch_id}"
    return CrawlBatchInput(
        run_id="warm", batch_id=batch_id, pages=[PageTask(url=url, previous=None)]
    )


def test_consecutive_batches_reuse_one_connection_until_released() -> None:
    release_warm_resources()
    with _server() as server:
        for batch_id in range(3):
            result = crawl_batch(_batch(server, batch_id), LOCAL)
            assert [page["title"] for page in result["results"]] == ["warm"]
        assert len(server.peers) == 3
        assert len(set(server.peers)) == 1  # one kept-alive connection served all three
        assert server.cookies_sent == [None, None, None]  # a warm client remembers no cookie
        release_warm_resources()
        crawl_batch(_batch(server, 3), LOCAL)
        assert len(set(server.peers)) == 2  # released: the next batch connects anew
    release_warm_resources()


def test_concurrent_batches_each_get_their_own_client() -> None:
    release_warm_resources()
    with _server() as server:
        server.hold.clear()
        with ThreadPoolExecutor(max_workers=3) as pool:
            futures = [pool.submit(crawl_batch, _batch(server, i), LOCAL) for i in range(3)]
            while len(server.peers) < 3:  # all three in flight at once
                threading.Event().wait(0.01)
            server.hold.set()
            results = [future.result(timeout=10) for future in futures]
        assert [r["results"][0]["ok"] for r in results] == [True, True, True]
        assert len(set(server.peers)) == 3
    release_warm_resources()
