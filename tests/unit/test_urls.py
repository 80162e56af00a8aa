"""Canonical URLs: the identity of a page for dedupe and for the store."""

from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.common.host_keys import host_key
from lambdas.common.urls import MAX_URL_LENGTH, UrlError, canonicalize


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("HTTP://Example.COM/a", "http://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://example.com", "http://example.com/"),
        ("http://example.com/a#section", "http://example.com/a"),
        ("http://example.com/a?b=2&a=1", "http://example.com/a?a=1&b=2"),
        ("http://example.com/?utm_source=x&UTM_medium=y&id=3", "http://example.com/?id=3"),
        ("http://example.com/?gclid=abc&fbclid=def&q=1", "http://example.com/?q=1"),
        ("http://example.com/?flag=&a=1", "http://example.com/?a=1&flag="),
        ("  http://example.com/a  ", "http://example.com/a"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("http://bücher.de/", "http://xn--bcher-kva.de/"),
        ("http://example.com./", "http://example.com./"),
    ],
)
def test_canonical_form(given: str, canonical: str) -> None:
    assert canonicalize(given) == canonical


def test_configured_tracking_parameters_are_removed_too() -> None:
    url = "http://example.com/?ref=newsletter&id=3"
    assert canonicalize(url, tracking_params={"ref"}) == "http://example.com/?id=3"
    assert canonicalize(url) == "http://example.com/?id=3&ref=newsletter"


def test_duplicates_collapse_to_one_identity() -> None:
    variants = [
        "http://example.com/page",
        "HTTP://EXAMPLE.com:80/page#top",
        "http://example.com/page?utm_campaign=x",
    ]
    assert len({canonicalize(v) for v in variants}) == 1


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("ftp://example.com/", "only http and https"),
        ("/relative/path", "only http and https"),
        ("", "empty URL"),
        ("http://", "has no host"),
        ("http://exa mple.com/", "whitespace"),
        ("http://user:secret@example.com/", "credentials"),
        ("http://example.com:99999/", "not a valid URL"),
        ("http://a..b/", "not a valid host name"),
        ("http://" + "a" * 64 + ".com/", "not a valid host name"),
        ("http://example.com/" + "a" * MAX_URL_LENGTH, "longer than 2083"),
    ],
)
def test_urls_crawlmap_will_not_fetch_are_refused_with_the_reason(given: str, problem: str) -> None:
    with pytest.raises(UrlError, match=problem):
        canonicalize(given)


def test_a_non_string_is_refused() -> None:
    with pytest.raises(UrlError, match="not a string"):
        canonicalize(42)  # type: ignore[arg-type]


# ---------------------------------------------------------------- one resource, one identity
# The spellings of issue 12, each fetched and stored separately before w3lib normalized them.
SAME_RESOURCE = [
    ["http://a.test/pg/a.html", "http://a.test/pg/./a.html", "http://a.test/pg/../pg/a.html"],
    ["http://a.test/x/a.html", "http://a.test/x/%2e/a.html", "http://a.test/y/%2E%2E/x/a.html"],
    ["http://a.test/tilde~file", "http://a.test/tilde%7Efile", "http://a.test/tilde%7efile"],
    ["http://a.test/na%C3%AFve", "http://a.test/na%c3%afve", "http://a.test/naïve"],
    ["http://a.test/A-Z_0.9", "http://a.test/%41-%5A%5F%30%2E%39"],  # unreserved, decoded
    ["http://xn--bcher-kva.test/", "http://bücher.test/", "http://BÜCHER.test/"],
    ["http://xn--bcher-kva.test/", "http://XN--BCHER-KVA.test/"],
    ["https://a.test/", "HTTPS://A.TEST:443", "https://a.test:443/#top", "https://a.test:/"],
    ["http://a.test/a%20b", "http://a.test/a%20b#x"],
    ["http://[::1]:8080/", "http://[::0:1]:8080/", "http://[0:0::1]:8080"],
    ["http://127.0.0.1/", "http://127.1/", "http://0x7f.0.0.1/", "http://2130706433/"],
    ["http://127.0.0.1/", "http://0177.0.0.1./", "http://127.0.1", "http://0x7F000001/"],
    ["http://a.test/a/b", "http://a.test/a\\b"],  # "\\" is "/" in http(s) URLs (URL Standard)
    ["http://a.test/?a=1&b=~", "http://a.test/?b=~&a=1&utm_source=x", "http://a.test?b=%7e&a=1"],
]


@pytest.mark.parametrize("spellings", SAME_RESOURCE, ids=lambda s: s[0])
def test_spellings_of_one_resource_collapse_to_the_first(spellings: list[str]) -> None:
    assert {canonicalize(s) for s in spellings} == {spellings[0]}


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("http://a.test/pg", "http://a.test/pg/"),  # a server's choice: a redirect says so
        ("http://a.test/Pg", "http://a.test/pg"),  # paths are case-sensitive
        ("http://a.test/a%2Fb", "http://a.test/a/b"),  # an encoded "/" is not a separator
        ("http://a.test/a%3Fb", "http://a.test/a?b"),
        ("http://a.test/a%25b", "http://a.test/a%b"),
        ("http://1e2.test/", "http://100.test/"),  # only a last label that is a number
        ("http://0x1g/", "http://0x1/"),
        ("http://a.test/?q=a%26b", "http://a.test/?q=a&b"),
        ("http://a.test:8080/", "http://a.test/"),
        ("https://a.test/", "http://a.test/"),
    ],
)
def test_different_resources_stay_different(first: str, second: str) -> None:
    assert canonicalize(first) != canonicalize(second)


def test_idn_hosts_follow_uts46_as_browsers_and_httpx_do() -> None:
    # w3lib alone (IDNA 2003) gives fass.de: another host than the one the link names.
    assert canonicalize("http://faß.de/") == "http://xn--fa-hia.de/"
    assert canonicalize("http://ｅｘａｍｐｌｅ｡test/") == "http://example.test/"  # full-width
    assert canonicalize("http://☃.test/") == "http://xn--n3h.test/"  # IDNA 2003's fallback


def test_a_query_keeps_its_encoded_separators_and_blank_values() -> None:
    url = "http://a.test/s?q=a%26b%3Dc&empty=&flag&utm_medium=x"
    assert canonicalize(url) == "http://a.test/s?empty=&flag=&q=a%26b%3Dc"


def test_tracking_parameters_are_recognised_however_their_name_is_encoded() -> None:
    url = "http://a.test/?utm%5Fsource=x&%67clid=y&id=1"
    assert canonicalize(url) == "http://a.test/?id=1"


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("http://ｅｘａｍｐｌｅ／.test/", "not a valid URL"),  # NFKC would add a "/" to the host
        ("http://a.test/\ud800", "not valid Unicode text"),
        ("http://exa<mple.test/", "not a valid host name"),
        ("http://a%2Eb.test/", "not a valid host name"),
        ("http://[::1/", "not a valid URL"),
        ("http://[1.2.3.4]/", "not a valid URL"),
        ("http:a.test/", "has no host"),
        ("http://a.test/%%34%31", "ambiguous percent-encoding"),
        ("http://a.test/" + "ü" * 700, "longer than 2083 characters once normalized"),
        ("javascript:alert(1)", "only http and https URLs are crawled, not 'javascript'"),
        ("localhost:8080/x", "not 'localhost'"),
        ("http://1.2.3.4.5/", "not a valid IPv4 address"),
        ("http://a.1/", "not a valid IPv4 address"),  # ends in a number: no domain name
        ("http://09.1/", "not a valid IPv4 address"),  # 9 is no octal digit
        ("http://256.0.0.1/", "a part is out of range"),
        ("http://1.2.65536/", "a part is out of range"),
    ],
)
def test_more_urls_refused_with_the_reason(given: str, problem: str) -> None:
    with pytest.raises(UrlError, match=problem):
        canonicalize(given)


def test_a_stray_percent_sign_is_kept_as_written() -> None:
    assert canonicalize("http://a.test/100%-sure") == "http://a.test/100%-sure"


# ---------------------------------------------------------------- properties
URL_PIECES = st.sampled_from(
    [
        *"aAzZ09-._~:/?#[]@!$&'()*+,;=%\\",
        *["%7e", "%7E", "%2F", "%2e", "%c3%af", "ï", "ß", "ü", "./", "../", "/", "/", "?"],
        *["&", "=", "%25", ":80", ":443", "utm_x=1", "xn--", "\u3002"],
    ]
)
RARELY = st.sampled_from(["", "", "", "", "", "", " ", "\t", "\ud800", "\x00", "\u00a0"])
HOSTS = st.sampled_from(["a.test", "A.Test", "bücher.test", "faß.test", "[::1]", "127.0.0.1"])
URL_LIKE = st.builds(
    lambda scheme, host, port, start, rest, odd: scheme + host + port + start + rest + odd,
    st.sampled_from(["http://", "https://", "HTTP://", "http:", "ftp://", "", "http:\\\\"]),
    HOSTS | st.lists(URL_PIECES, max_size=6).map("".join),
    st.sampled_from(["", "", ":80", ":443", ":8080", ":", ":x"]),
    st.sampled_from(["/", "/", "/", "", "?", "#", "\\"]),
    st.lists(URL_PIECES, max_size=20).map("".join),
    RARELY,
)


def canonical_or_none(url: str) -> str | None:
    try:
        return canonicalize(url)
    except UrlError:
        return None


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=60), URL_LIKE))
def test_any_text_is_canonical_or_refused_with_a_url_error(text: str) -> None:
    canonical = canonical_or_none(text)  # anything but UrlError fails the test
    if canonical is not None:
        assert canonical.startswith(("http://", "https://"))
        assert canonical.encode("ascii")  # ready to send: hosts in punycode, the rest escaped
        assert len(canonical) <= MAX_URL_LENGTH


@settings(max_examples=600, deadline=None)
@given(URL_LIKE)
def test_canonicalize_is_idempotent(url: str) -> None:
    canonical = canonical_or_none(url)
    if canonical is not None:
        assert canonicalize(canonical) == canonical


@settings(max_examples=300, deadline=None)
@given(URL_LIKE)
def test_the_host_key_of_a_url_is_the_host_of_its_canonical_form(url: str) -> None:
    canonical = canonical_or_none(url)
    if canonical is not None:
        parts = urlsplit(canonical)
        assert host_key(canonical) == f"{parts.scheme}://{parts.netloc}"


@pytest.mark.parametrize(
    "url",
    [
        "http://BÜCHER.test:80/a",
        "http://faß.de/",
        "https://A.test:443/x",
        "http://a.test:8080/",
        "http://[::1]:8081/",
        "http://[::0:1]:8081/",
        "http://127.1:80/",
        "http://0x7f.1:8080/",
    ],
)
def test_a_url_as_written_has_the_host_key_of_its_canonical_form(url: str) -> None:
    # Redirect targets are keyed as httpx gives them; listed pages by their canonical form.
    assert host_key(url) == host_key(canonicalize(url))
