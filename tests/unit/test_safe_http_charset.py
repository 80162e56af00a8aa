"""Decoding per the WHATWG Encoding Standard and HTML's prescan (safe_http/charset.py)."""

import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.common.safe_http.charset import decode_body, header_charset, lookup, prescan
from lambdas.crawl_batch import parse

# Debian's German release notes, as the issue saw them: windows-1252 quotes and dashes.
GERMAN = (
    "<html><head><title>Aktualisierungen – „Stable-Aktualisierungen“</title></head><body>"
    "<p>Die „Stable-Aktualisierungen“ – früher „proposed-updates“ – enthalten Korrekturen "
    "für Pakete, die schon veröffentlicht sind; sie werden geprüft und übernommen.</p>"
    "</body></html>"
)
KOREAN = (
    "<html><head><title>데비안 설치 안내서</title></head><body><p>이 문서는 데비안 "
    "GNU/리눅스 배포판을 설치하는 방법을 설명합니다. 설치 과정은 여러 단계로 이루어져 "
    "있으며, 각 단계에서 필요한 정보를 입력해야 합니다. 자세한 내용은 아래를 참고하십시오."
    "</p></body></html>"
)
C1_CONTROLS = {chr(c) for c in range(0x80, 0xA0)}


def _no_c1(text: str) -> bool:
    return not (set(text) & C1_CONTROLS)


@pytest.mark.parametrize("label", ["iso-8859-1", "ISO8859-1", "latin1", "us-ascii", "ascii", "l1"])
def test_latin1_and_ascii_labels_mean_windows_1252(label: str) -> None:
    decoded = decode_body(GERMAN.encode("cp1252"), f"text/html; charset={label}")
    assert (decoded.text, decoded.encoding, decoded.source) == (GERMAN, "windows-1252", "header")


def test_windows_1252_without_any_declaration_is_detected_as_windows_1252() -> None:
    decoded = decode_body(GERMAN.encode("cp1252"), "text/html")
    assert decoded.source == "detected"
    assert decoded.encoding == "windows-1252"
    assert "„Stable-Aktualisierungen“" in decoded.text
    assert _no_c1(decoded.text)


def test_meta_charset_past_the_prescan_is_left_to_detection() -> None:
    padding = "<!-- " + "x" * 1100 + " -->"
    page = GERMAN.replace("<head>", f"<head>{padding}<meta charset='koi8-r'>")
    decoded = decode_body(page.encode("cp1252"), None)
    assert decoded.source == "detected"  # koi8-r, past byte 1024, was not read
    assert "„Stable-Aktualisierungen“" in decoded.text
    assert _no_c1(decoded.text)


def test_an_xml_declaration_alone_names_the_encoding() -> None:
    page = '<?xml version="1.0" encoding="ISO-8859-1"?>\n' + GERMAN
    decoded = decode_body(page.encode("cp1252"), None)
    assert (decoded.encoding, decoded.source) == ("windows-1252", "xml")
    assert "„Stable-Aktualisierungen“" in decoded.text


def test_euc_kr_by_meta_and_by_detection() -> None:
    with_meta = KOREAN.replace("<head>", '<head><meta charset="EUC-KR">').encode("euc-kr")
    decoded = decode_body(with_meta, "text/html")
    assert (decoded.encoding, decoded.source) == ("euc-kr", "meta")
    assert "데비안 설치 안내서" in decoded.text
    detected = decode_body(KOREAN.encode("euc-kr"), "text/html")
    assert (detected.encoding, detected.source) == ("euc-kr", "detected")
    assert detected.text == KOREAN


@pytest.mark.parametrize("label", ["rot13", "hex", "undefined", "base64", "zlib", "x-nope", ""])
def test_unknown_labels_are_ignored_never_raised(label: str) -> None:
    body = f'<meta charset="{label}"><p>café</p>'.encode()
    for content_type in (f"text/html; charset={label}", "text/html"):
        decoded = decode_body(body, content_type)
        assert "café" in decoded.text
        assert decoded.source == "detected"


def test_the_replacement_encoding_is_what_the_standard_says() -> None:
    decoded = decode_body(b"\x1b$)C<p>x</p>", "text/html; charset=iso-2022-kr")
    assert (decoded.text, decoded.encoding) == ("\ufffd", "replacement")


@pytest.mark.parametrize(
    ("bom", "codec", "name"),
    [
        (codecs.BOM_UTF8, "utf-8", "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16le"),
        (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16be"),
    ],
)
def test_a_bom_wins_over_everything(bom: bytes, codec: str, name: str) -> None:
    decoded = decode_body(bom + "<p>naïve</p>".encode(codec), "text/html; charset=koi8-r")
    assert (decoded.text, decoded.encoding, decoded.source) == ("<p>naïve</p>", name, "bom")


# ------------------------------------------------------------------ the prescan, step by step


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'<meta charset="koi8-r">', "koi8-r"),
        (b"<META CHARSET=KOI8-R>", "koi8-r"),
        (b"<meta/charset=koi8-r>", "koi8-r"),
        (b'<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">', "koi8-r"),
        (b"<meta content='text/html;charset=\"koi8-r\"' http-equiv=content-type>", "koi8-r"),
        (b'<meta content="text/html; charset=koi8-r">', None),  # no http-equiv pragma
        (b'<!-- <meta charset="koi8-r"> --><meta charset="iso-8859-2">', "iso-8859-2"),
        (b'<!--><meta charset="koi8-r">', "koi8-r"),  # "<!-->" closes itself
        (b'<div title="<meta charset=koi8-r>"><meta charset="iso-8859-2">', "iso-8859-2"),
        (b'<meta charset="koi8-r" charset="iso-8859-2">', "koi8-r"),  # first one counts
        (b'<meta charset="rot13"><meta charset="koi8-r">', "koi8-r"),  # unknown: next meta
        (b'<meta charset="utf-16le">', "utf-8"),  # ASCII bytes cannot be UTF-16
        (b'<meta charset="x-user-defined">', "windows-1252"),
        (b'<?php echo "<meta charset=koi8-r>" ?><meta charset="iso-8859-2">', "iso-8859-2"),
        (b"<metal charset=koi8-r>", None),
        (b"<meta charset=", None),
        (b"<!-- never closed <meta charset=koi8-r>", None),
    ],
)
def test_prescan_follows_the_html_standard(head: bytes, expected: str | None) -> None:
    found = prescan(head + b"<p>body</p>")
    assert (found.name if found is not None else None) == expected


def test_labels_go_through_the_standard_table() -> None:
    assert lookup(" Latin1 ").name == "windows-1252"
    assert lookup("x-sjis").name == "shift_jis"
    assert lookup("ks_c_5601-1987").name == "euc-kr"
    assert lookup("rot13") is None
    assert header_charset('text/html; charset="EUC-KR"') == "EUC-KR"
    assert header_charset("text/html") is None


def test_parse_still_re_exports_decoding() -> None:
    assert parse.decode_body is decode_body


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=2048), content_type=st.text(max_size=60))
def test_any_bytes_and_any_content_type_decode_without_raising(
    body: bytes, content_type: str
) -> None:
    decoded = decode_body(body, content_type)
    assert isinstance(decoded.text, str)


@settings(max_examples=200, deadline=None)
@given(
    label=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20),
    text=st.text(max_size=200),
)
def test_any_meta_label_decodes_without_raising(label: str, text: str) -> None:
    body = f'<meta charset="{label}"><p>{text}</p>'.encode("utf-8", "surrogatepass")
    assert isinstance(decode_body(body, f"text/html; charset={label}").text, str)
