"""Bytes of an HTML page -> text, as browsers do it (WHATWG Encoding Standard + HTML sniffing).

The order: a byte-order mark; the HTTP Content-Type charset; the HTML standard's prescan of
the first 1024 bytes for <meta charset> / <meta http-equiv content-type> (its exact
algorithm: comments skipped, other tags' attributes stepped over); an XML declaration at the
very start (what Blink does); then detection (charset-normalizer) as the last step; the
default is windows-1252. Every label goes through the standard's label table (the
`webencodings` package implements it): iso-8859-1, latin1, us-ascii and ascii mean
windows-1252; labels it does not know (rot13, hex, undefined) are ignored, never raised.
The same table names what detection found, so a detected iso-8859-1 decodes as windows-1252.

One deliberate step beyond the standard, kept from v0.1: a header or meta that says UTF-8 over
bytes that are not UTF-8 (a common server default over legacy pages) is not trusted; the
next step decides instead.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Literal

import charset_normalizer
import webencodings

CharsetSource = Literal["bom", "header", "meta", "xml", "detected", "default"]

PRESCAN_BYTES = 1024  # the HTML standard's prescan length
DETECTION_SAMPLE_BYTES = 64 * 1024

_BOMS: tuple[tuple[bytes, str], ...] = (  # the standard knows these three only
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16be"),
    (codecs.BOM_UTF16_LE, "utf-16le"),
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*(?:"([^"]*)"|'([^']*)'|([^;\s]+))""", re.I)
_XML_DECLARATION = re.compile(rb"""<\?xml[^>]*?\sencoding\s*=\s*["']([^"'>]*)["']""")
_WIDE_ENCODINGS = ["utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le"]
# Python codec names detection may answer with that are not labels in the standard's table.
_PYTHON_NAMES = {"cp949": "euc-kr", "utf_16": "utf-16le", "big5hkscs": "big5", "cp932": "sjis"}
_SPACE = b"\t\n\x0c\r "


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str  # the standard's name of the encoding used ("windows-1252", "euc-kr", ...)
    source: CharsetSource


def lookup(label: str | bytes | None) -> webencodings.Encoding | None:
    """The encoding a label names in the WHATWG table, or None (unknown labels are ignored)."""
    if label is None:
        return None
    text = label.decode("latin-1") if isinstance(label, bytes) else label
    return webencodings.lookup(text.strip().strip("\"'"))


def header_charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, or None."""
    if not content_type:
        return None
    match = _HEADER_CHARSET.search(content_type)
    if match is None:
        return None
    return next((group for group in match.groups() if group is not None), None)


def _decode(body: bytes, encoding: webencodings.Encoding) -> str:
    if encoding.name == "replacement":  # the standard: one U+FFFD for the whole stream
        return "\ufffd" if body else ""
    return str(encoding.codec_info.decode(body, "replace")[0])


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_body(body: bytes, content_type: str | None) -> DecodedText:
    """Decode an HTML body: BOM, HTTP charset, meta prescan, XML declaration, detection."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            encoding = webencodings.lookup(name)
            return DecodedText(_decode(body[len(bom) :], encoding), encoding.name, "bom")

    declared = lookup(header_charset(content_type))
    if declared is not None and (declared.name != "utf-8" or _is_utf8(body)):
        return DecodedText(_decode(body, declared), declared.name, "header")

    for found, source in ((prescan(body), "meta"), (xml_declaration(body), "xml")):
        if found is not None and (found.name != "utf-8" or _is_utf8(body)):
            return DecodedText(_decode(body, found), found.name, source)  # type: ignore[arg-type]

    return detect(body)


def detect(body: bytes) -> DecodedText:
    """The last step: UTF-8 when the bytes are UTF-8, else charset-normalizer's guess named
    through the label table, else windows-1252."""
    if _is_utf8(body):  # fast, and right for the overwhelming majority
        return DecodedText(body.decode("utf-8"), "utf-8", "detected")
    sample = body[:DETECTION_SAMPLE_BYTES]
    # Without NUL bytes the page cannot be UTF-16/32; short pages otherwise fool the detector.
    excluded = [] if b"\x00" in sample else _WIDE_ENCODINGS
    # preemptive_behaviour=False: declarations were read above, by the standard's rules (one
    # past the prescan must not decide through the detector).
    best = charset_normalizer.from_bytes(
        sample, cp_exclusion=excluded, preemptive_behaviour=False
    ).best()
    if best is not None:
        # Encodings that give this very text are equivalent here; prefer the web's default.
        same_text = best.could_be_from_charset
        guess = "cp1252" if "cp1252" in same_text or "latin_1" in same_text else best.encoding
        encoding = _named(guess)
        if encoding is not None:
            return DecodedText(_decode(body, encoding), encoding.name, "detected")
    fallback = webencodings.lookup("windows-1252")
    return DecodedText(_decode(body, fallback), fallback.name, "default")


def _named(python_name: str) -> webencodings.Encoding | None:
    """A detected Python codec name as the standard's encoding (iso8859_1 -> windows-1252)."""
    for candidate in (python_name, python_name.replace("_", "-"), _PYTHON_NAMES.get(python_name)):
        found = lookup(candidate)
        if found is not None:
            return found
    try:
        canonical = codecs.lookup(python_name).name
    except LookupError:
        return None
    return lookup(canonical) or lookup(canonical.replace("_", "-"))


def xml_declaration(body: bytes) -> webencodings.Encoding | None:
    """The encoding an XML declaration at the very start names (UTF-16 read as UTF-8)."""
    if not body.startswith(b"<?xml"):
        return None
    match = _XML_DECLARATION.match(body[:PRESCAN_BYTES])
    return _for_ascii_document(lookup(match.group(1))) if match else None


def _for_ascii_document(encoding: webencodings.Encoding | None) -> webencodings.Encoding | None:
    """A label read from ASCII bytes cannot mean UTF-16; x-user-defined means windows-1252."""
    if encoding is None:
        return None
    if encoding.name in ("utf-16be", "utf-16le"):
        return webencodings.lookup("utf-8")
    if encoding.name == "x-user-defined":
        return webencodings.lookup("windows-1252")
    return encoding


# ---------------------------------------------------------------- the HTML standard's prescan


def prescan(body: bytes) -> webencodings.Encoding | None:
    """HTML's "prescan a byte stream to determine its encoding" over the first 1024 bytes."""
    return _Prescan(body[:PRESCAN_BYTES]).run()


class _Prescan:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _at(self, offset: int = 0) -> int | None:
        index = self.pos + offset
        return self.data[index] if index < len(self.data) else None

    def run(self) -> webencodings.Encoding | None:
        data = self.data
        while self.pos < len(data):
            if data.startswith(b"<!--", self.pos):
                end = data.find(b"-->", self.pos + 2)  # "<!-->" closes itself
                if end < 0:
                    return None
                self.pos = end + 2
            elif (
                data[self.pos : self.pos + 5].lower() == b"<meta"
                and self.pos + 5 < len(data)
                and data[self.pos + 5] in _SPACE + b"/"
            ):
                self.pos += 6
                found = self._meta()
                if found is not None:
                    return found
                continue
            elif self._starts_tag():
                self._skip_tag()
                continue
            elif data[self.pos : self.pos + 2] in (b"<!", b"</", b"<?"):
                end = data.find(b">", self.pos + 2)
                if end < 0:
                    return None
                self.pos = end
            self.pos += 1
        return None

    def _starts_tag(self) -> bool:
        first, second, third = self._at(0), self._at(1), self._at(2)
        if first != ord("<") or second is None:
            return False
        if chr(second).isascii() and chr(second).isalpha():
            return True
        return (
            second == ord("/")
            and third is not None
            and chr(third).isascii()
            and (chr(third).isalpha())
        )

    def _skip_tag(self) -> None:
        while self.pos < len(self.data) and self.data[self.pos] not in _SPACE + b">":
            self.pos += 1
        while self._attribute() is not None:
            pass
        self.pos += 1  # past the ">" (or the end)

    def _meta(self) -> webencodings.Encoding | None:
        seen: set[bytes] = set()
        got_pragma = False
        need_pragma: bool | None = None
        charset: webencodings.Encoding | None = None
        while (attribute := self._attribute()) is not None:
            name, value = attribute
            if name in seen:
                continue
            seen.add(name)
            if name == b"http-equiv" and value == b"content-type":
                got_pragma = True
            elif name == b"content" and charset is None:
                label = _charset_in_content(value)
                if label is not None:
                    charset = lookup(label)
                    need_pragma = True
            elif name == b"charset":
                charset = lookup(value)
                need_pragma = False
        if need_pragma is None or (need_pragma and not got_pragma):
            return None
        return _for_ascii_document(charset)

    def _attribute(self) -> tuple[bytes, bytes] | None:
        """HTML's "get an attribute": (lowercased name, value), or None at ">" or the end."""
        data, end = self.data, len(self.data)
        while self.pos < end and data[self.pos] in _SPACE + b"/":
            self.pos += 1
        if self.pos >= end or data[self.pos] == ord(">"):
            return None
        name = bytearray()
        while True:
            if self.pos >= end:
                return None
            byte = data[self.pos]
            if byte == ord("=") and name:
                self.pos += 1
                return bytes(name), self._value()
            if byte in _SPACE:
                break
            if byte in b"/>":
                return bytes(name), b""
            name.append(byte | 0x20 if 0x41 <= byte <= 0x5A else byte)
            self.pos += 1
        while self.pos < end and data[self.pos] in _SPACE:
            self.pos += 1
        if self.pos >= end or data[self.pos] != ord("="):
            return bytes(name), b""
        self.pos += 1
        return bytes(name), self._value()

    def _value(self) -> bytes:
        data, end = self.data, len(self.data)
        while self.pos < end and data[self.pos] in _SPACE:
            self.pos += 1
        value = bytearray()
        if self.pos < end and data[self.pos] in b"\"'":
            quote = data[self.pos]
            self.pos += 1
            while self.pos < end and data[self.pos] != quote:
                value.append(_lower(data[self.pos]))
                self.pos += 1
            self.pos += 1
            return bytes(value)
        if self.pos < end and data[self.pos] == ord(">"):
            return b""
        while self.pos < end and data[self.pos] not in _SPACE + b">":
            value.append(_lower(data[self.pos]))
            self.pos += 1
        return bytes(value)


def _lower(byte: int) -> int:
    return byte | 0x20 if 0x41 <= byte <= 0x5A else byte


def _charset_in_content(value: bytes) -> bytes | None:
    """HTML's "extract a character encoding from a meta element" (the content attribute)."""
    pos = 0
    while True:
        found = value.find(b"charset", pos)
        if found < 0:
            return None
        pos = found + len(b"charset")
        while pos < len(value) and value[pos] in _SPACE:
            pos += 1
        if pos >= len(value) or value[pos] != ord("="):
            continue
        pos += 1
        while pos < len(value) and value[pos] in _SPACE:
            pos += 1
        if pos >= len(value):
            return None
        if value[pos] in b"\"'":
            closing = value.find(bytes([value[pos]]), pos + 1)
            return None if closing < 0 else value[pos + 1 : closing]
        stop = pos
        while stop < len(value) and value[stop] not in _SPACE + b";":
            stop += 1
        return value[pos:stop]
