# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BJNP codec: exact request bytes, Nessus-58147 answer checks, defensive parsing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import struct

from hypothesis import given, settings, strategies as st

from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_codec as codec

IDENTITY = ("MFG:Canon;CMD:BJL,BJRaster3,BSCCe,NCCe,IVEC,IVECPLI;MDL:MG5200 series;"
            "CLS:PRINTER;DES:Canon MG5200 series;VER:1.050;")


def answer_to(request, payload):
    header = codec.parse_header(request)
    return codec.build_packet(header["type"] | codec.RESPONSE_FLAG, header["code"],
                              header["sequence"], payload)


def test_requests_match_the_documented_bytes():
    assert codec.build_discover(codec.TYPE_PRINTER, 1).hex() == "424a4e50010100000001000000000000"
    assert codec.build_discover(codec.TYPE_SCANNER, 1).hex() == "424a4e50020100000001000000000000"
    assert codec.build_identity_request(codec.TYPE_PRINTER, 1).hex() == \
        "424a4e50013000000001000000000000"
    assert codec.build_identity_request(codec.TYPE_SCANNER, 1).hex() == \
        "424a4e5002300000000100000000000400000000"


def test_device_type_follows_the_port():
    assert codec.device_type_for_port(8611) == codec.TYPE_PRINTER
    assert codec.device_type_for_port(8612) == codec.TYPE_SCANNER
    assert codec.device_type_for_port(8613) == codec.TYPE_PRINTER


def test_discover_answer_is_accepted_and_carries_mac_and_address():
    request = codec.build_discover(codec.TYPE_PRINTER, 7)
    payload = codec.build_discover_payload(bytes.fromhex("001e8f123456"), [bytes([127, 0, 0, 1])])
    answer = answer_to(request, payload)
    assert len(answer) == 32  # the documented size of an IPv4 discover answer
    parsed = codec.parse_response(answer, request)
    assert parsed["type"] == 0x81 and parsed["code"] == codec.CODE_DISCOVER
    details = codec.parse_discover_payload(parsed["payload"])
    assert details == {"mac": "00:1e:8f:12:34:56", "addresses": [b"\x7f\x00\x00\x01"]}


def test_ipv6_discover_payload_has_two_addresses():
    addresses = [bytes(range(16)), bytes(range(16, 32))]
    details = codec.parse_discover_payload(codec.build_discover_payload(b"\x01" * 6, addresses))
    assert details["addresses"] == addresses


def test_identity_answer_is_parsed_into_fields():
    request = codec.build_identity_request(codec.TYPE_SCANNER, 2)
    parsed = codec.parse_response(answer_to(request, codec.build_identity_payload(IDENTITY)), request)
    assert codec.parse_identity_payload(parsed["payload"]) == {
        "manufacturer": "Canon", "model": "MG5200 series", "description": "Canon MG5200 series",
        "firmware": "1.050", "command_set": "BJL,BJRaster3,BSCCe,NCCe,IVEC,IVECPLI", "raw": IDENTITY}


def test_long_key_names_and_missing_fields():
    identity = codec.parse_device_id("MANUFACTURER:Canon;MODEL:LBP;COMMAND SET:PCL;junk;:x;")
    assert identity["manufacturer"] == "Canon"
    assert identity["model"] == "LBP"
    assert identity["command_set"] == "PCL"
    assert identity["description"] is None and identity["firmware"] is None


def test_mfnp_identity_without_length_prefix():
    assert codec.parse_identity_payload(b"MFG:Canon;MDL:MF4400;")["model"] == "MF4400"


def test_length_prefix_beyond_the_payload_is_not_trusted():
    assert codec.extract_device_id(struct.pack("!H", 500) + b"\x00\x01") == ""
    assert codec.parse_identity_payload(b"")["raw"] is None


def test_short_discover_payload_yields_nothing():
    assert codec.parse_discover_payload(b"\x00\x01\x08") == {"mac": None, "addresses": []}
    # MAC length says 6 but only 3 bytes follow.
    assert codec.parse_discover_payload(b"\x00\x01\x08\x00\x06\x04abc")["mac"] is None


def test_answers_failing_any_nessus_check_are_rejected():
    request = codec.build_discover(codec.TYPE_PRINTER, 1)
    good = answer_to(request, b"")
    assert codec.parse_response(good, request) is not None
    wrong_magic = b"BNJB" + good[4:]
    wrong_type = good[:4] + b"\x01" + good[5:]
    wrong_code = good[:5] + b"\x30" + good[6:]
    wrong_sequence = good[:9] + b"\x02" + good[10:]
    wrong_unknown = good[:6] + b"\x00\x01" + good[8:]
    trailing_bytes = good + b"\x00"
    short_payload = good[:12] + struct.pack("!I", 4)
    for bad in (wrong_magic, wrong_type, wrong_code, wrong_sequence, wrong_unknown,
                trailing_bytes, short_payload, good[:15], b""):
        assert codec.parse_response(bad, request) is None, bad.hex()


def test_request_echoed_back_is_not_an_answer():
    request = codec.build_discover(codec.TYPE_PRINTER, 1)
    assert codec.parse_response(request, request) is None


@settings(max_examples=2000)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data):
    request = codec.build_identity_request(codec.TYPE_PRINTER, 1)
    parsed = codec.parse_response(data, request)
    assert parsed is None or parsed["payload"] == data[16:]
    codec.parse_header(data)
    assert isinstance(codec.parse_discover_payload(data), dict)
    assert set(codec.parse_identity_payload(data)) == {
        "manufacturer", "model", "description", "firmware", "command_set", "raw"}


@settings(max_examples=500)
@given(st.binary(min_size=16, max_size=64))
def test_arbitrary_bytes_after_a_valid_header_never_raise(tail):
    request = codec.build_discover(codec.TYPE_SCANNER, 9)
    data = b"BJNP" + tail
    parsed = codec.parse_response(data, request)
    if parsed is not None:
        codec.parse_discover_payload(parsed["payload"])


@given(device_type=st.sampled_from([codec.TYPE_PRINTER, codec.TYPE_SCANNER]),
       sequence=st.integers(0, 0xFFFF), payload=st.binary(max_size=200))
def test_well_formed_answers_round_trip(device_type, sequence, payload):
    for request in (codec.build_discover(device_type, sequence),
                    codec.build_identity_request(device_type, sequence)):
        parsed = codec.parse_response(answer_to(request, payload), request)
        assert parsed["payload"] == payload
        assert parsed["sequence"] == sequence
        assert parsed["type"] == device_type | 0x80


_value = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e,
                                        blacklist_characters=";:"), max_size=30).map(str.strip)


@given(mac=st.binary(min_size=6, max_size=6), address=st.binary(min_size=4, max_size=4))
def test_discover_payload_round_trips(mac, address):
    details = codec.parse_discover_payload(codec.build_discover_payload(mac, [address]))
    assert details == {"mac": codec.format_mac(mac), "addresses": [address]}


@given(manufacturer=_value, model=_value, description=_value, firmware=_value, command=_value)
def test_identity_round_trips(manufacturer, model, description, firmware, command):
    device_id = "MFG:%s;MDL:%s;DES:%s;VER:%s;CMD:%s;" % (
        manufacturer, model, description, firmware, command)
    identity = codec.parse_identity_payload(codec.build_identity_payload(device_id))
    assert (identity["manufacturer"], identity["model"], identity["description"],
            identity["firmware"], identity["command_set"]) == (
        manufacturer, model, description, firmware, command)
    assert identity["raw"] == device_id.strip()
