# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BJNP packets: build requests, parse answers, read IEEE 1284 device IDs.

Pure functions, no sockets. Everything that reads bytes from the network returns a
result or ``None`` ("not BJNP") and never raises, whatever the input: the bytes come
from untrusted hosts. The checks on an answer are the ones Nessus plugin 58147 applies.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import struct

MAGIC = b"BJNP"
HEADER = struct.Struct("!4sBBHHHI")
HEADER_SIZE = HEADER.size  # 16

TYPE_PRINTER = 0x01
TYPE_SCANNER = 0x02
RESPONSE_FLAG = 0x80

CODE_DISCOVER = 0x01
CODE_IDENTITY = 0x30

PRINTER_PORT = 8611
SCANNER_PORT = 8612

# The discover answer payload starts with these four bytes (then MAC and address lengths).
DISCOVER_PREFIX = b"\x00\x01\x08\x00"

# IEEE 1284 keys (upper-cased) that fill each identity field, in order of preference.
IDENTITY_KEYS = (
    ("manufacturer", ("MFG", "MANUFACTURER")),
    ("model", ("MDL", "MODEL")),
    ("description", ("DES", "DESCRIPTION")),
    ("firmware", ("VER",)),
    ("command_set", ("CMD", "COMMAND SET")),
)


def device_type_for_port(port):
    """Scanner commands go to the scanner port (8612); every other BJNP port gets printer ones."""
    return TYPE_SCANNER if port == SCANNER_PORT else TYPE_PRINTER


def build_packet(device_type, code, sequence, payload=b"", session=0):
    """Return one BJNP packet (header + payload); the caller picks type and code."""
    return HEADER.pack(MAGIC, device_type, code, 0, sequence & 0xFFFF, session & 0xFFFF,
                       len(payload)) + payload


def build_discover(device_type, sequence):
    """Discover request: header only (bjnp-protocol.md, "Example bytes")."""
    return build_packet(device_type, CODE_DISCOVER, sequence)


def build_identity_request(device_type, sequence):
    """Get-identity request: no payload for printers, four zero bytes for scanners (as nmap)."""
    payload = b"\x00\x00\x00\x00" if device_type == TYPE_SCANNER else b""
    return build_packet(device_type, CODE_IDENTITY, sequence, payload)


def build_discover_payload(mac, addresses=()):
    """Discover answer payload: prefix, MAC length, address length, MAC, address bytes."""
    address_bytes = b"".join(addresses)
    return DISCOVER_PREFIX + struct.pack("!BB", len(mac), len(address_bytes)) + mac + address_bytes


def build_identity_payload(device_id):
    """Identity answer payload: 2-byte length that counts itself, then the IEEE 1284 string."""
    data = device_id.encode("ascii", "replace") if not isinstance(device_id, bytes) else device_id
    return struct.pack("!H", len(data) + 2) + data


def parse_header(data):
    """Return the header fields of ``data`` as a dict, or ``None`` when it is not BJNP."""
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) < HEADER_SIZE:
        return None
    magic, device_type, code, unknown, sequence, session, length = HEADER.unpack_from(data)
    if magic != MAGIC:
        return None
    return {"type": device_type, "code": code, "unknown": unknown, "sequence": sequence,
            "session": session, "payload_length": length}


def parse_response(data, request):
    """Validate ``data`` as the answer to ``request`` (both raw packets).

    Returns ``{"type", "code", "sequence", "payload"}`` or ``None``. Accepted only with the
    magic, type ``request | 0x80``, the same code, the same 32 bits at offset 6 and a
    payload length that accounts for every byte: the checks of Nessus plugin 58147.
    """
    answer = parse_header(data)
    sent = parse_header(request)
    if answer is None or sent is None:
        return None
    if answer["type"] != sent["type"] | RESPONSE_FLAG or answer["code"] != sent["code"]:
        return None
    if (answer["unknown"], answer["sequence"]) != (sent["unknown"], sent["sequence"]):
        return None
    if answer["payload_length"] + HEADER_SIZE != len(data):
        return None
    return {"type": answer["type"], "code": answer["code"], "sequence": answer["sequence"],
            "payload": bytes(data[HEADER_SIZE:])}


def format_mac(raw):
    """``b'\\x00\\x1e...'`` -> ``00:1e:...``."""
    return ":".join("%02x" % octet for octet in bytearray(raw))


def parse_discover_payload(payload):
    """Read the MAC and addresses a discover answer carries.

    Returns ``{"mac": str or None, "addresses": [bytes, ...]}``; fields that do not fit
    the payload are left out rather than guessed.
    """
    result = {"mac": None, "addresses": []}
    payload = bytes(payload or b"")
    if len(payload) < 6:
        return result
    mac_length, address_length = bytearray(payload[4:6])
    mac = payload[6:6 + mac_length]
    if mac_length == 6 and len(mac) == 6:
        result["mac"] = format_mac(mac)
    addresses = payload[6 + mac_length:6 + mac_length + address_length]
    if len(addresses) == address_length and address_length in (4, 16, 32):
        size = 4 if address_length == 4 else 16
        result["addresses"] = [addresses[i:i + size] for i in range(0, address_length, size)]
    return result


def _text(data):
    return data.decode("utf-8", "replace").replace("\x00", "").strip()


def extract_device_id(payload):
    """Return the IEEE 1284 string of an identity payload ("" when there is none).

    BJNP prefixes it with a big-endian length that counts those two bytes; MFNP answers
    carry the bare string, recognised by a ``KEY:`` start.
    """
    payload = bytes(payload or b"")
    if len(payload) >= 2:
        declared = struct.unpack("!H", payload[:2])[0]
        if 2 <= declared <= len(payload):
            return _text(payload[2:declared])
    if b":" in payload[:64] and payload[:1].isalpha():
        return _text(payload)
    return ""


def parse_device_id(device_id):
    """Split an IEEE 1284 device ID into the identity fields (missing ones are ``None``)."""
    pairs = {}
    for item in (device_id or "").split(";"):
        key, sep, value = item.partition(":")
        key = key.strip().upper()
        if sep and key and key not in pairs:
            pairs[key] = value.strip()
    identity = {}
    for field, keys in IDENTITY_KEYS:
        identity[field] = next((pairs[key] for key in keys if key in pairs), None)
    identity["raw"] = device_id or None
    return identity


def parse_identity_payload(payload):
    """Identity answer payload -> identity dict (``manufacturer`` ... ``raw``)."""
    return parse_device_id(extract_device_id(payload))
