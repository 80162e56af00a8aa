"""Speed 7f: every mocked AWS request looks its account's backend up under a global lock.

Checked against moto 5.2.5: BackendDict.__getitem__ takes moto's process-wide backend_lock,
copies the account ids into a list and tests `self not in BackendDict._instances`, which
compares dicts by value, on every request (an S3 GetObject makes three lookups). With 40
Map iterations calling S3 at once, that lock was 15% of the fan-out's samples. An account
already in the dict was created and registered by that same code under the lock, so the
engine returns it directly and keeps moto's path for the first lookup of an account.
"""

from __future__ import annotations

from typing import Any

from moto.core.base_backend import BackendDict

_slow_getitem = BackendDict.__getitem__


def _getitem(self: Any, account_id: str) -> Any:
    found = dict.get(self, account_id)
    return _slow_getitem(self, account_id) if found is None else found


def install() -> None:
    BackendDict.__getitem__ = _getitem
