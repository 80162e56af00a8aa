"""The local run folder: its schema (schema.py), its one writer and its one reader.

Used by the engine (it writes a run), `history --arn` (it writes a fetched run), and
history, report and cost (they read one). JSON goes through one normaliser (jsonio.plain).
"""

from crawlmap.runfolder.home import (
    HOME_ENV,
    cache_dir,
    crawlmap_home,
    default_database,
    new_run_id,
    runs_dir,
)
from crawlmap.runfolder.jsonio import iso_time, plain, read_json, write_json, write_jsonl
from crawlmap.runfolder.reader import (
    RunFiles,
    RunFolderError,
    is_run_folder,
    iter_results,
    normalize_meta,
    read_meta,
    read_results,
    read_run,
)
from crawlmap.runfolder.schema import DistributedMeta, FunctionMeta, RunMeta, S3Requests
from crawlmap.runfolder.writer import RunFolderWriter

__all__ = [
    "HOME_ENV",
    "DistributedMeta",
    "FunctionMeta",
    "RunFiles",
    "RunFolderError",
    "RunFolderWriter",
    "RunMeta",
    "S3Requests",
    "cache_dir",
    "crawlmap_home",
    "default_database",
    "is_run_folder",
    "iso_time",
    "iter_results",
    "new_run_id",
    "normalize_meta",
    "plain",
    "read_json",
    "read_meta",
    "read_results",
    "read_run",
    "runs_dir",
    "write_json",
    "write_jsonl",
]
