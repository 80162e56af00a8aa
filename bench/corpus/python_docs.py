"""A real HTML corpus nobody here wrote: Debian's python3.11-doc package (Sphinx HTML).

Not committed: install it with `apt-get install -y python3.11-doc` (after `apt-get update`).
"""

from pathlib import Path

PYTHON_DOCS = Path("/usr/share/doc/python3.11/html")
INSTALL_HINT = "apt-get update && apt-get install -y python3.11-doc"


def python_doc_pages(limit: int | None = None) -> list[tuple[str, bytes]] | None:
    """(URL-ish path, raw bytes) of the HTML pages, sorted by path; None if not installed."""
    if not PYTHON_DOCS.is_dir():
        return None
    paths = sorted(p for p in PYTHON_DOCS.rglob("*.html") if p.is_file())
    if limit is not None:
        paths = paths[:limit]
    return [
        (f"https://docs.python.org/3.11/{p.relative_to(PYTHON_DOCS).as_posix()}", p.read_bytes())
        for p in paths
    ]
