"""SIP URIs and name-addr values (RFC 3261 §19.1, §20.10, §25.1; IPv6 per RFC 5118)."""

from __future__ import annotations

import pytest

from afterbeep.sip.errors import SipSyntaxError
from afterbeep.sip.uri import NameAddr, SipUri, split_params


class TestSipUri:
    def test_full_uri_from_rfc3261_19_1_3(self) -> None:
        # RFC 3261 §19.1.3 example: sip:alice:secretword@atlanta.com;transport=tcp
        uri = SipUri.parse("sip:alice:secretword@atlanta.com;transport=tcp")
        assert uri.scheme == "sip"
        assert uri.user == "alice"
        assert uri.password == "secretword"
        assert uri.host == "atlanta.com"
        assert uri.port is None
        assert uri.params == {"transport": "tcp"}

    def test_port_params_and_headers(self) -> None:
        # RFC 3261 §19.1.3: sips:alice@atlanta.com?subject=project%20x&priority=urgent
        uri = SipUri.parse("sips:alice@atlanta.com:5061;lr;maddr=239.255.255.1?subject=x&p=u")
        assert uri.scheme == "sips"
        assert uri.port == 5061
        assert uri.params == {"lr": None, "maddr": "239.255.255.1"}
        assert uri.headers == "subject=x&p=u"
        assert str(uri) == "sips:alice@atlanta.com:5061;lr;maddr=239.255.255.1?subject=x&p=u"

    def test_scheme_and_host_are_case_insensitive(self) -> None:
        uri = SipUri.parse("SIP:Bob@BILOXI.Example.COM")
        assert uri.scheme == "sip"
        assert uri.host == "biloxi.example.com"
        assert uri.user == "Bob"  # the user part is case-sensitive (§19.1.4)

    def test_ipv6_reference_with_port(self) -> None:
        # RFC 5118 §4.1: sip:[2001:db8::10]:5070
        uri = SipUri.parse("sip:vm@[2001:DB8::10]:5070;transport=udp")
        assert uri.host == "2001:db8::10"
        assert uri.port == 5070
        assert str(uri) == "sip:vm@[2001:db8::10]:5070;transport=udp"

    def test_ipv6_reference_without_port(self) -> None:
        uri = SipUri.parse("sip:[2001:db8::10]")
        assert (uri.user, uri.host, uri.port) == (None, "2001:db8::10", None)
        assert str(uri) == "sip:[2001:db8::10]"

    def test_unterminated_ipv6_reference(self) -> None:
        with pytest.raises(SipSyntaxError):
            SipUri.parse("sip:vm@[2001:db8::10:5060")

    def test_user_part_with_semicolon_splits_at_last_at(self) -> None:
        # RFC 4475 §3.1.1.10 (semiuri): ';' in the user part is not a parameter.
        uri = SipUri.parse("sip:user;par=u%40example.net@example.com;p=1")
        assert uri.user == "user;par=u@example.net"
        assert uri.host == "example.com"
        assert uri.params == {"p": "1"}

    def test_question_mark_in_user_part_is_not_the_headers(self) -> None:
        # RFC 4475 §3.1.1.2 (intmeth): '?' and ';' are user-unreserved (§25.1); headers
        # begin at the first '?' after the host.
        uri = SipUri.parse(
            "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too."
            "(doesn't-it)@example.com"
        )
        assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
        assert uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
        assert (uri.host, uri.headers, uri.params) == ("example.com", "", {})
        with_headers = SipUri.parse("sip:a?b@example.com;lr?Subject=x")
        assert (with_headers.user, with_headers.host) == ("a?b", "example.com")
        assert (with_headers.params, with_headers.headers) == ({"lr": None}, "Subject=x")

    def test_escaped_user_is_unescaped(self) -> None:
        uri = SipUri.parse("sip:%61lice@atlanta.com")
        assert uri.user == "alice"

    def test_percent_in_user_is_escaped_again(self) -> None:
        # §25.1: "%" may only appear as the start of an escape in a user part, so a
        # literal percent sign must be written back as %25.
        uri = SipUri.parse("sip:100%25@example.com")
        assert uri.user == "100%"
        assert str(uri) == "sip:100%25@example.com"
        assert SipUri.parse(str(uri)) == uri

    def test_space_in_user_is_escaped(self) -> None:
        uri = SipUri.parse("sip:a%20b@example.com")
        assert str(uri) == "sip:a%20b@example.com"

    def test_tel_uri(self) -> None:
        # RFC 3966 §6 example.
        uri = SipUri.parse("tel:+1-201-555-0123;ext=1")
        assert uri.scheme == "tel"
        assert uri.user == "+1-201-555-0123"
        assert uri.host == ""
        assert uri.params == {"ext": "1"}
        assert str(uri) == "tel:+1-201-555-0123;ext=1"

    def test_unsupported_scheme_is_416(self) -> None:
        # RFC 3261 §8.2.2.1.
        with pytest.raises(SipSyntaxError) as info:
            SipUri.parse("http://example.com/")
        assert info.value.status == 416

    @pytest.mark.parametrize(
        "text",
        [
            "example.com",  # no scheme
            "sip:@example.com",  # empty user
            "sip:alice@",  # empty host
            "sip:alice@exa mple.com",
            "sip:alice@example.com:0",
            "sip:alice@example.com:65536",
            "sip:alice@example.com:50x",
        ],
    )
    def test_invalid(self, text: str) -> None:
        with pytest.raises(SipSyntaxError) as info:
            SipUri.parse(text)
        assert info.value.status == 400

    @pytest.mark.parametrize("port", ["\u00b2", "\uff15\uff10\uff16\uff10", "\u0665"])
    def test_non_ascii_digits_in_port_are_a_syntax_error(self, port: str) -> None:
        # port = 1*DIGIT and DIGIT is %x30-39 (RFC 5234 B.1); str.isdigit() is wider.
        with pytest.raises(SipSyntaxError):
            SipUri.parse(f"sip:alice@example.com:{port}")


class TestNameAddr:
    def test_quoted_display_with_comma_and_escapes(self) -> None:
        addr = NameAddr.parse(r'"Watson, \"Tom\"" <sip:watson@bell.example.com>;tag=8x;q=0.7')
        assert addr.display == 'Watson, "Tom"'
        assert addr.uri == "sip:watson@bell.example.com"
        assert addr.params == {"tag": "8x", "q": "0.7"}
        assert addr.tag == "8x"
        assert str(addr) == r'"Watson, \"Tom\"" <sip:watson@bell.example.com>;tag=8x;q=0.7'

    def test_unquoted_display_is_tokens(self) -> None:
        # RFC 3261 §20.20: From: Anonymous <sip:c8oqz84zk7z@privacy.org>;tag=hyh8
        addr = NameAddr.parse("Anonymous   Caller <sip:c8oqz84zk7z@privacy.org>;tag=hyh8")
        assert addr.display == "Anonymous Caller"
        assert addr.tag == "hyh8"

    def test_uri_params_stay_inside_angle_brackets(self) -> None:
        addr = NameAddr.parse("<sip:+15551234@gw.example.com;user=phone>;tag=abc")
        assert addr.uri == "sip:+15551234@gw.example.com;user=phone"
        assert addr.params == {"tag": "abc"}
        assert addr.sip_uri().params == {"user": "phone"}

    def test_addr_spec_params_belong_to_the_header(self) -> None:
        # RFC 3261 §20.10: without <>, every ';' parameter is a header parameter.
        addr = NameAddr.parse("sip:+15551234@gw.example.com;user=phone;tag=abc")
        assert addr.uri == "sip:+15551234@gw.example.com"
        assert addr.params == {"user": "phone", "tag": "abc"}
        assert addr.display == ""

    def test_addr_spec_with_lws_before_semicolon_and_around_equals(self) -> None:
        # RFC 4475 §3.1.1.1 (wsinv): "t: sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n"
        addr = NameAddr.parse("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n")
        assert addr.uri == "sip:vivekg@chair-dnrc.example.com"
        assert addr.tag == "1918181833n"

    def test_whitespace_inside_angle_brackets_is_rejected(self) -> None:
        # RFC 4475 §3.1.2.14 (badaspec): "reasonable always to reject".
        with pytest.raises(SipSyntaxError):
            NameAddr.parse('"Watson, Thomas" < sip:t.watson@example.org >')

    def test_header_param_names_are_lowercased_and_flags_kept(self) -> None:
        addr = NameAddr.parse("<sip:p.example.com>;LR;Expires=60")
        assert addr.params == {"lr": None, "expires": "60"}

    def test_less_than_inside_quotes_is_not_the_uri(self) -> None:
        addr = NameAddr.parse('"a <b>" <sip:x@example.com>')
        assert addr.display == "a <b>"
        assert addr.uri == "sip:x@example.com"

    @pytest.mark.parametrize(
        "text",
        [
            "<sip:x@example.com",  # unterminated
            "<sip:x@example.com> junk",
            '"unterminated <sip:x@example.com>',
            "Bad@Display <sip:x@example.com>",
            "sip:x@example.com extra",  # addr-spec may not contain spaces
            "<not a uri>",
        ],
    )
    def test_invalid(self, text: str) -> None:
        with pytest.raises(SipSyntaxError):
            NameAddr.parse(text)


def test_split_params_keeps_separators_inside_quotes_and_brackets() -> None:
    text = '"a;b" <sip:x@y;lr>;tag=1;q="x;y"'
    assert split_params(text) == ['"a;b" <sip:x@y;lr>', "tag=1", 'q="x;y"']
    assert split_params('"a, b" <sip:x@y?h=1,2>, <sip:z@w>', ",") == [
        '"a, b" <sip:x@y?h=1,2>',
        " <sip:z@w>",
    ]
