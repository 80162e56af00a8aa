"""The address guard of lambdas.common.safe_http (lambdas/common/safe_http/guard.py)."""

import pytest

from lambdas.common.safe_http import AddressRefusedError, address_problem, check_address


@pytest.mark.parametrize(
    ("ip", "kind"),
    [
        ("10.0.0.5", "a private"),
        ("172.16.3.4", "a private"),
        ("192.168.1.1", "a private"),
        ("127.0.0.1", "a loopback"),
        ("127.255.0.9", "a loopback"),
        ("::1", "a loopback"),
        ("169.254.169.254", "the cloud metadata"),
        ("169.254.170.2", "the cloud metadata"),
        ("fd00:ec2::254", "the cloud metadata"),
        ("169.254.1.2", "a link-local"),
        ("fe80::1", "a link-local"),
        ("fe80::1%eth0", "a link-local"),
        ("100.64.0.1", "a carrier-grade NAT"),
        ("100.127.255.254", "a carrier-grade NAT"),
        ("fc00::1", "a unique-local"),
        ("fdab:1234::1", "a unique-local"),
        ("224.0.0.1", "a multicast"),
        ("ff02::1", "a multicast"),
        ("0.0.0.0", "an unspecified"),
        ("::", "an unspecified"),
        ("240.0.0.1", "a reserved"),
        ("255.255.255.255", "a reserved"),
        ("::ffff:10.0.0.5", "an IPv4-mapped private"),
        ("::ffff:127.0.0.1", "an IPv4-mapped loopback"),
        ("::ffff:169.254.169.254", "an IPv4-mapped form of the cloud metadata"),
        ("::10.0.0.5", "an IPv4-compatible private"),
        ("2002:a00:5::1", "an 6to4 private"),
        ("2002:a9fe:a9fe::1", "an 6to4 form of the cloud metadata"),
        ("64:ff9b::a00:5", "an NAT64 private"),
        ("64:ff9b::7f00:1", "an NAT64 loopback"),
        ("2001:db8::1", "a reserved (documentation)"),
    ],
)
def test_non_public_addresses_are_named(ip: str, kind: str) -> None:
    assert address_problem(ip) == kind


@pytest.mark.parametrize(
    "ip", ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_pass(ip: str) -> None:
    assert address_problem(ip) is None
    check_address(ip)  # does not raise


def test_refusal_message_names_the_address_and_kind() -> None:
    with pytest.raises(AddressRefusedError) as caught:
        check_address("10.0.0.5")
    assert caught.value.reason == "refused: 10.0.0.5 is a private address"
    assert not caught.value.transient


def test_allow_private_networks_opens_private_but_never_metadata() -> None:
    check_address("127.0.0.1", allow_private_networks=True)
    check_address("10.1.2.3", allow_private_networks=True)
    check_address("::ffff:192.168.0.1", allow_private_networks=True)
    for metadata in ("169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254"):
        with pytest.raises(AddressRefusedError, match="metadata"):
            check_address(metadata, allow_private_networks=True)


def test_a_non_ip_string_is_refused() -> None:
    with pytest.raises(AddressRefusedError, match="not an IP address"):
        check_address("localhost")


# Every IPv6 form a translator or tunnel can turn into the metadata address (issue 11).
METADATA_EMBEDDINGS = [
    ("64:ff9b:1::a9fe:a9fe", "a local NAT64 form of the cloud metadata"),  # RFC 8215, /96
    ("64:ff9b:1:a9fe:a9:fe00::", "a local NAT64 form of the cloud metadata"),  # /48 position
    ("64:ff9b:1:0:a9:fea9:fe00:0", "a local NAT64 form of the cloud metadata"),  # /64 position
    ("64:ff9b::a9fe:a9fe", "an NAT64 form of the cloud metadata"),
    ("::ffff:0:a9fe:a9fe", "an IPv4-translated (SIIT) form of the cloud metadata"),
    ("::ffff:a9fe:a9fe", "an IPv4-mapped form of the cloud metadata"),
    ("::a9fe:a9fe", "an IPv4-compatible form of the cloud metadata"),
    ("2002:a9fe:a9fe::1", "an 6to4 form of the cloud metadata"),
    ("2001:0:a9fe:a9fe::1", "a Teredo form of the cloud metadata"),  # the server field
    ("2001:0:4136:e378:8000:63bf:5601:5601", "a Teredo form of the cloud metadata"),  # client
    ("fe80::5efe:a9fe:a9fe", "an ISATAP form of the cloud metadata"),
    ("2001:db8:1::200:5efe:a9fe:a9fe", "an ISATAP form of the cloud metadata"),
    ("::ffff:0:a9fe:aa02", "an IPv4-translated (SIIT) form of the cloud metadata"),  # .170.2
    ("169.254.170.23", "the cloud metadata"),  # EKS Pod Identity
    ("fd00:ec2::23", "the cloud metadata"),
    ("100.100.100.200", "the cloud metadata"),  # Alibaba Cloud
]


@pytest.mark.parametrize(("ip", "kind"), METADATA_EMBEDDINGS)
def test_metadata_embedded_in_ipv6_is_refused_even_with_private_allowed(ip: str, kind: str) -> None:
    assert address_problem(ip) == kind
    with pytest.raises(AddressRefusedError, match="metadata"):
        check_address(ip, allow_private_networks=True)


@pytest.mark.parametrize(
    ("ip", "kind"),
    [
        ("::ffff:0:8.8.8.8", "a reserved (IPv4-translated)"),
        ("64:ff9b:1::808:808", "a reserved (local NAT64)"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "a reserved (Teredo)"),
    ],
)
def test_translated_forms_of_other_addresses_keep_their_default_refusal(ip: str, kind: str) -> None:
    assert address_problem(ip) == kind
    check_address(ip, allow_private_networks=True)  # only metadata stays refused there
