"""Speed 7i (memory): what moto's S3 spends on each object besides its body.

Checked against moto 5.2.5: FakeKey sets 35 attributes in __init__, more than CPython shares
one key table for (30), so every object gets a dict of its own (1.6 KB), and a private ACL
of its own (FakeAcl, FakeGrant, FakeGrantee and their lists, ~0.6 KB) that nothing mutates
(moto replaces an object's ACL, never edits one). Of the ~3.8 KB an object cost, two objects
a batch, about half goes. The engine makes S3's objects SlotKey (FakeKey with those
attributes in slots: 8 bytes each) and gives them all one canned ACL per name. Pickling and
deep copies (ListObjectVersions) carry every attribute as moto's own __getstate__ does.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.s3 import models as s3_models

# The attributes FakeKey.__init__ (and ManagedState's, and the value setter) set in moto 5.2.5.
ATTRIBUTES = (
    "_etag",
    "_expiry",
    "_is_versioned",
    "_max_buffer_size",
    "_metadata",
    "_status",
    "_storage_class",
    "_tick",
    "_time_progressed",
    "_transitions",
    "_value_buffer",
    "_version_id",
    "account_id",
    "acl",
    "bucket_key_enabled",
    "bucket_name",
    "checksum_algorithm",
    "checksum_parts",
    "checksum_type",
    "checksum_value",
    "contentsize",
    "disposed",
    "encryption",
    "kms_key_id",
    "last_modified",
    "lock",
    "lock_legal_status",
    "lock_mode",
    "lock_until",
    "model_name",
    "multipart",
    "name",
    "partition",
    "region_name",
    "website_redirect_location",
)


class SlotKey(s3_models.FakeKey):
    """FakeKey with its attributes in slots (any other one still goes to its __dict__)."""

    __slots__ = ATTRIBUTES
    __module__ = s3_models.__name__  # moto files its models by module: this is an S3 one

    def _state(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for name in ATTRIBUTES:
            try:
                state[name] = getattr(self, name)
            except AttributeError:  # never set
                continue
        return state

    def __getstate__(self) -> dict[str, Any]:  # as FakeKey's, from the slots too
        state = self._state()
        try:
            state["value"] = self.value
        except ValueError:  # a deleted key's closed buffer (as moto handles it)
            state["value"] = ""
        state.pop("_value_buffer", None)
        state.pop("lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            if name != "value":
                setattr(self, name, value)
        self._value_buffer = s3_models.tempfile.SpooledTemporaryFile(max_size=self._max_buffer_size)
        self.value = state["value"]
        self.lock = threading.Lock()


def install() -> None:
    s3_models.FakeKey = SlotKey  # the name models.py constructs keys by
    s3_models.SlotKey = SlotKey  # where pickle looks it up
    s3_models.get_canned_acl = functools.cache(s3_models.get_canned_acl)
