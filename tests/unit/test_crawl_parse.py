"""Charset decoding, HTML extraction, selectors and content hashing (lambdas.crawl_batch.parse)."""

import codecs

import pytest

from lambdas.common.errors import ConfigError
from lambdas.crawl_batch.parse import (
    compile_selectors,
    decode_body,
    extract_page,
    is_html,
)

CAFE = "Le café est très bon, déjà vu à Noël."


def test_bom_wins_over_header_and_meta() -> None:
    body = codecs.BOM_UTF16_LE + f'<meta charset="iso-8859-1"><p>{CAFE}</p>'.encode("utf-16-le")
    decoded = decode_body(body, "text/html; charset=iso-8859-1")
    assert decoded.source == "bom"
    assert CAFE in decoded.text
    assert not decoded.text.startswith("\ufeff")


def test_utf8_bom_is_stripped() -> None:
    decoded = decode_body(codecs.BOM_UTF8 + CAFE.encode(), None)
    assert (decoded.text, decoded.source) == (CAFE, "bom")


def test_header_charset_beats_meta() -> None:
    body = f'<meta charset="utf-8"><p>{CAFE}</p>'.encode("cp1252")
    decoded = decode_body(body, 'text/html; charset="ISO-8859-1"')
    assert decoded.source == "header"
    assert CAFE in decoded.text  # latin-1 label decoded as windows-1252, like browsers


def test_meta_charset_when_header_has_none() -> None:
    text = "<p>Привет мир</p>"
    meta = '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
    body = f"<html><head>{meta}{text}"
    decoded = decode_body(body.encode("cp1251"), "text/html")
    assert decoded.source == "meta"
    assert text in decoded.text


def test_header_claiming_utf8_over_legacy_bytes_is_not_trusted() -> None:
    body = f'<meta charset="windows-1252"><p>{CAFE}</p>'.encode("cp1252")
    decoded = decode_body(body, "text/html; charset=utf-8")
    assert decoded.source == "meta"
    assert CAFE in decoded.text


def test_unknown_header_label_falls_through_to_detection() -> None:
    text = "<p>Это проверка определения кодировки: текст на русском языке, довольно длинный.</p>"
    decoded = decode_body(text.encode("cp1251"), "text/html; charset=no-such-charset")
    assert decoded.source == "detected"
    assert decoded.text == text


def test_missing_charset_utf8_detected() -> None:
    decoded = decode_body(CAFE.encode("utf-8"), "text/html")
    assert (decoded.text, decoded.encoding, decoded.source) == (CAFE, "utf-8", "detected")


def test_is_html_by_type_or_sniffing() -> None:
    assert is_html("text/html", b"")
    assert is_html("application/xhtml+xml", b"")
    assert not is_html("application/pdf", b"<html>")
    assert is_html(None, b"\n  <!DOCTYPE html><html>")
    assert not is_html(None, b"%PDF-1.7")


PAGE = """<!doctype html><html><head>
<title>  The   Title </title>
<meta name="Description" content=" A page  about things. ">
<link rel="alternate canonical" href="/canon?x=1">
<script>var hidden = "do not count me";</script>
<style>p { color: red }</style>
</head><body>
<h1>Main <em>heading</em></h1>
<p class="price" data-sku="A-17">12.50 EUR</p>
<a href="/one">one</a> <a href="https://other.example/two">two</a>
<a href="#top">top</a> <a href="mailto:x@y.z">mail</a> <a href="javascript:void(0)">js</a>
<noscript>enable js</noscript>
</body></html>"""


def test_extract_built_in_fields() -> None:
    facts = extract_page(PAGE, "https://site.example/dir/page")
    assert facts.title == "The Title"
    assert facts.description == "A page about things."
    assert facts.canonical == "https://site.example/canon?x=1"
    assert facts.h1 == "Main heading"
    assert facts.links == 2
    # "The Title Main heading 12.50 EUR one two top mail js": script/style/noscript not counted
    assert facts.words == 11
    assert len(facts.content_hash) == 64


def test_base_href_is_used_for_canonical() -> None:
    html = '<base href="https://cdn.example/b/"><link rel=canonical href="c.html">'
    assert extract_page(html, "https://site.example/").canonical == "https://cdn.example/b/c.html"


def test_selectors_text_attribute_and_missing() -> None:
    selectors = compile_selectors(
        {"price": "p.price", "sku": "p.price@data-sku", "absent": "div.nope", "json": "script"}
    )
    facts = extract_page(PAGE, "https://site.example/", selectors)
    assert facts.extracted == {
        "price": "12.50 EUR",
        "sku": "A-17",
        "absent": None,
        "json": 'var hidden = "do not count me";',
    }


def test_invalid_selector_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"CRAWLMAP_SELECTORS\.broken: not a valid CSS selector"):
        compile_selectors({"ok": "h1", "broken": "a[[["})


def test_content_hash_ignores_markup_and_scripts_but_not_text() -> None:
    base = extract_page(PAGE, "https://a.example/").content_hash
    restyled = PAGE.replace('class="price"', 'class="cost"').replace("var hidden", "var other")
    respaced = PAGE.replace("<h1>Main", "<h1>\n\n   Main")
    edited = PAGE.replace("12.50 EUR", "13.00 EUR")
    assert extract_page(restyled, "https://a.example/").content_hash == base
    assert extract_page(respaced, "https://a.example/").content_hash == base
    assert extract_page(edited, "https://a.example/").content_hash != base


def test_long_fields_are_cut_to_keep_records_compact() -> None:
    html = f"<title>{'word ' * 500}</title><meta name=description content='{'x' * 5000}'>"
    facts = extract_page(html, "https://a.example/")
    assert facts.title is not None
    assert len(facts.title) == 200
    assert facts.description is not None
    assert len(facts.description) == 300
