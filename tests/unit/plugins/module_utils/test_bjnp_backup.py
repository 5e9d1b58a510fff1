# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup naming, generations, pruning, metadata and ruleset texts (pure parts)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import io
import stat
import tarfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.netsec.bjnp.plugins.module_utils import bjnp_backup as bb

WHEN = datetime.datetime(2026, 11, 25, 11, 46, 55, 123456, tzinfo=datetime.timezone.utc)


def gen_names(stamp, backend, meta=True):
    base = bb.generation_base(stamp, backend)
    names = [name for dummy, name in bb.generation_files(base, backend)]
    return names + ([base + ".json"] if meta else [])


def stamp_n(n):
    return bb.stamp(WHEN + datetime.timedelta(seconds=n))


def test_names_sort_in_time_order_and_parse_back():
    assert bb.stamp(WHEN) == "20261125T114655.123456Z"
    base = bb.generation_base(bb.stamp(WHEN), "iptables-legacy")
    assert base == "20261125T114655.123456Z-iptables-legacy"
    assert bb.generation_files(base, "iptables-legacy") == [("ipv4", base + ".v4"), ("ipv6", base + ".v6")]
    assert bb.parse_name(base + ".v6") == ("20261125T114655.123456Z", "iptables-legacy", ".v6")
    assert bb.base_of("/var/backups/bjnp/" + base + ".json") == base
    assert sorted([stamp_n(10), stamp_n(2), stamp_n(100000)]) == [stamp_n(2), stamp_n(10), stamp_n(100000)]


@pytest.mark.parametrize("name", [
    "20261125T114655.123456Z-nftables.v4",       # suffix of another backend
    "20261125T114655.123456Z-pf.nft",            # unknown backend
    "20261125T114655Z-nftables.nft",             # no microseconds
    "x20261125T114655.123456Z-nftables.nft",
    "20261125T114655.123456Z-nftables.nft.bak",
    "rules.v4",
])
def test_foreign_names_are_not_ours(name):
    assert bb.parse_name(name) is None
    assert bb.base_of(name) is None


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError):
        bb.generation_base("20261125T114655.123456Z", "pf")


def test_iptables_nft_and_legacy_names_do_not_mix():
    names = gen_names(stamp_n(1), "iptables-nft") + gen_names(stamp_n(2), "iptables-legacy")
    assert [g[0] for g in bb.generations(names, "iptables-nft")] == [bb.generation_base(stamp_n(1), "iptables-nft")]
    assert bb.newest(names, "iptables-legacy") == bb.generation_base(stamp_n(2), "iptables-legacy")


def test_prune_keeps_the_newest_generations_of_that_backend_only():
    names = []
    for n in range(5):
        names += gen_names(stamp_n(n), "nftables")
    names += gen_names(stamp_n(0), "ufw") + ["README", "rules.v4"]
    new = bb.generation_base(stamp_n(9), "nftables")
    doomed = bb.select_prune(names, "nftables", 3, new_base=new)
    # The new one plus the two newest existing ones stay.
    assert sorted(doomed) == sorted(gen_names(stamp_n(0), "nftables") + gen_names(stamp_n(1), "nftables")
                                    + gen_names(stamp_n(2), "nftables"))
    assert bb.select_prune(names, "nftables", 3) == sorted(gen_names(stamp_n(0), "nftables")) + sorted(
        gen_names(stamp_n(1), "nftables"))
    assert bb.select_prune(names, "ufw", 1, new_base=bb.generation_base(stamp_n(9), "ufw")) == sorted(
        gen_names(stamp_n(0), "ufw"))


def test_incomplete_generations_are_never_restored_and_pruned_only_when_old():
    names = gen_names(stamp_n(1), "nftables", meta=False) + gen_names(stamp_n(2), "nftables") + gen_names(
        stamp_n(3), "nftables", meta=False)
    assert bb.newest(names, "nftables") == bb.generation_base(stamp_n(2), "nftables")
    # keep=1 with nothing new: the old partial one goes, the newer partial one may be in progress.
    assert bb.select_prune(names, "nftables", 1) == gen_names(stamp_n(1), "nftables", meta=False)
    assert bb.newest(gen_names(stamp_n(1), "nftables", meta=False), "nftables") is None


def test_broken_and_future_generations_count_for_nothing():
    good, empty, ahead = stamp_n(1), stamp_n(2), stamp_n(10 ** 6)
    names = gen_names(good, "nftables") + gen_names(empty, "nftables") + gen_names(ahead, "nftables")
    broken = {bb.generation_base(empty, "nftables"): "metadata file is empty"}
    assert [g[2] for g in bb.generations(names, "nftables", broken, latest=stamp_n(60))] == [
        "complete", "incomplete", "future"]
    # A 0-byte metadata file (a full disk) and a name dated in the future do not win "newest" ...
    assert bb.newest(names, "nftables", broken, latest=stamp_n(60)) == bb.generation_base(good, "nftables")
    # ... nor push the good generation out of keep; the broken one goes, the future one stays.
    new = bb.generation_base(stamp_n(30), "nftables")
    assert bb.select_prune(names, "nftables", 2, new, broken, latest=stamp_n(60)) == sorted(gen_names(empty, "nftables"))


def test_keep_below_one_is_refused():
    with pytest.raises(ValueError):
        bb.select_prune([], "nftables", 0)


@given(st.lists(st.integers(0, 10 ** 6), unique=True, max_size=30), st.integers(1, 12))
def test_prune_property_exactly_keep_generations_remain(offsets, keep):
    names = []
    for n in offsets:
        names += gen_names(stamp_n(n), "firewalld")
    new = bb.generation_base(stamp_n(10 ** 6 + 1), "firewalld")
    doomed = set(bb.select_prune(names, "firewalld", keep, new_base=new))
    left = [n for n in names if n not in doomed] + gen_names(stamp_n(10 ** 6 + 1), "firewalld")
    kept = [g[0] for g in bb.generations(left, "firewalld")]
    assert len(kept) == min(keep, len(offsets) + 1)
    assert kept == sorted(bb.generation_base(stamp_n(n), "firewalld") for n in offsets + [10 ** 6 + 1])[-len(kept):]


def test_metadata_records_checksums_and_checks_back():
    meta = bb.build_metadata(WHEN.isoformat(), "nftables", "b", "fw01", "CHG-1", "why",
                             [("ruleset", "b.nft", b"table inet x {\n}\n")], {"running": True})
    assert meta["files"] == [{"role": "ruleset", "name": "b.nft", "size": 17,
                              "sha256": bb.sha256_hex(b"table inet x {\n}\n")}]
    assert meta["change_id"] == "CHG-1" and meta["running"] is True
    assert bb.check_metadata(meta, "nftables") == []
    assert bb.check_metadata(meta, "ufw") == ["backup is for backend 'nftables', not 'ufw'"]
    assert bb.check_metadata([], "ufw") == ["metadata is not a JSON object"]
    evil = dict(meta, files=[{"role": "ruleset", "name": "../etc/shadow", "sha256": "0"}])
    assert "not a plain file name" in bb.check_metadata(evil, "nftables")[0]
    assert bb.check_metadata(dict(meta, files=[]), "nftables") == ["metadata lists no files"]


def good_meta(base="20261125T114655.123456Z-nftables"):
    return bb.build_metadata(WHEN.isoformat(), "nftables", base, "fw01", "", "",
                             [("ruleset", base + ".nft", b"table inet x {\n}\n")])


@pytest.mark.parametrize("change, says", [
    ({"files": {"ruleset": "x"}}, "metadata field files is {'ruleset': 'x'}, not a list"),
    ({"files": "x.nft"}, "not a list"),
    ({"format": True}, "unsupported metadata format True"),
    ({"format": "1"}, "unsupported metadata format '1'"),
    ({"host": ["fw01"]}, "metadata field host is ['fw01'], not a string"),
    ({"running": "yes"}, "metadata field running is 'yes', not true or false"),
    ({"paths": "/etc/ufw"}, "metadata field paths is '/etc/ufw', not a list of strings"),
    ({"generation": "20261125T114655.123456Z-nftables-other"}, "metadata names generation"),
])
def test_metadata_fields_of_the_wrong_type_are_named(change, says):
    meta = dict(good_meta(), **change)
    problems = bb.check_metadata(meta, "nftables", "20261125T114655.123456Z-nftables")
    assert problems and says in "; ".join(problems)


@pytest.mark.parametrize("entry, says", [
    ({"name": 7}, "name is not a string"),
    ({"role": ["ruleset"]}, "role is not a string"),
    ({"sha256": 12}, "sha256 is not a string"),
    ({"sha256": "0" * 63}, "is not 64 lowercase hex digits"),
    ({"size": "17"}, "size '17' is not an integer"),
    ({"role": "ipv4"}, "has role 'ipv4', not one of ruleset"),
    ({"name": "20261101T000000.000000Z-nftables.nft"}, "is not a file of this generation"),
    ({"name": ".."}, "is not a plain file name"),
])
def test_file_entries_of_the_wrong_type_are_named(entry, says):
    meta = good_meta()
    meta["files"] = [dict(meta["files"][0], **entry)]
    problems = bb.check_metadata(meta, "nftables", "20261125T114655.123456Z-nftables")
    assert len(problems) == 1 and says in problems[0], problems


def test_a_role_listed_twice_is_refused():
    meta = good_meta()
    meta["files"] = meta["files"] * 2
    assert bb.check_metadata(meta, "nftables") == ["role 'ruleset' is listed twice"]
    assert bb.check_metadata(good_meta(), "nftables", "20261125T114655.123456Z-nftables") == []


@pytest.mark.parametrize("mode, uid, directory, says", [
    (stat.S_IFREG | 0o600, 0, False, None),
    (stat.S_IFREG | 0o644, 0, False, None),
    (stat.S_IFDIR | 0o700, 0, True, None),
    (stat.S_IFLNK | 0o777, 0, False, "it is a symlink"),
    (stat.S_IFDIR | 0o700, 0, False, "it is a directory, not a regular file"),
    (stat.S_IFIFO | 0o600, 0, False, "it is a fifo, not a regular file"),
    (stat.S_IFREG | 0o600, 0, True, "it is a regular file, not a directory"),
    (stat.S_IFREG | 0o600, 65534, False, "it is owned by uid 65534, not by uid 0 (the user running this)"),
    (stat.S_IFREG | 0o620, 0, False, "it is writable by group (mode 0620)"),
    (stat.S_IFDIR | 0o1777, 0, True, "it is writable by group and others (mode 1777)"),
])
def test_only_files_nobody_else_can_write_are_trusted(mode, uid, directory, says):
    assert bb.untrusted(mode, uid, 0, directory) == says


SAVE_LEGACY = """# Generated by iptables-save v1.8.9 on Wed Nov 25 11:49:40 2026
*mangle
:PREROUTING ACCEPT [12:3456]
:INPUT ACCEPT [0:0]
COMMIT
# Completed on Wed Nov 25 11:49:40 2026
*filter
:INPUT DROP [7:420]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:MYDROP - [0:0]
[3:180] -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
COMMIT
"""


def test_iptables_normalisation_drops_comments_and_counters():
    text = bb.normalize_iptables(SAVE_LEGACY)
    assert "#" not in text and "[12:3456]" not in text and "[7:420]" not in text
    assert ":INPUT DROP [0:0]\n" in text
    assert bb.normalize_iptables("") == ""


def test_unused_legacy_tables_are_ignored_only_when_truly_unused():
    text = bb.without_unused_tables(bb.normalize_iptables(SAVE_LEGACY))
    assert "*mangle" not in text and "*filter" in text
    used = SAVE_LEGACY.replace(":INPUT ACCEPT [0:0]\nCOMMIT", ":INPUT DROP [0:0]\nCOMMIT", 1)
    assert "*mangle" in bb.without_unused_tables(bb.normalize_iptables(used))


def test_tables_absent_from_the_backup_are_deleted_or_emptied():
    saved = "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"
    assert bb.iptables_tables(SAVE_LEGACY) == [("mangle", ["PREROUTING", "INPUT"]),
                                               ("filter", ["INPUT", "FORWARD", "OUTPUT"])]
    assert bb.iptables_restore_input(saved, SAVE_LEGACY, True) == (saved, ["mangle"])
    text, delete = bb.iptables_restore_input(saved, SAVE_LEGACY, False)
    assert delete == []
    assert text == saved + "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\nCOMMIT\n"


def test_nft_restore_script_flushes_first_and_counters_compare_as_zero():
    assert bb.nft_restore_script("table ip x {\n}") == "flush ruleset\ntable ip x {\n}\n"
    assert bb.nft_restore_script("") == "flush ruleset\n"
    assert bb.normalize_nft("tcp dport 22 counter packets 12 bytes 720 accept") == (
        "tcp dport 22 counter packets 0 bytes 0 accept")


@pytest.mark.parametrize("name, ok", [
    ("etc/ufw", True),
    ("etc/ufw/user.rules", True),
    ("etc/default/ufw", True),
    ("etc/ufwx/evil", False),
    ("/etc/ufw/user.rules", False),
    ("etc/ufw/../shadow", False),
    ("etc/passwd", False),
])
def test_archive_members_must_stay_inside_the_roots(name, ok):
    assert (bb.check_member(name, bb.CONFIG_PATHS["ufw"]) is None) is ok


def member(name, kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


@pytest.mark.parametrize("members, says", [
    ([member("etc/ufw", tarfile.DIRTYPE), member("etc/ufw/d", tarfile.SYMTYPE, "/victim"), member("etc/ufw/d/x")],
     ["archive member 'etc/ufw/d' is a symlink (to '/victim')",
      "archive member 'etc/ufw/d/x' lies under 'etc/ufw/d', which is not a directory"]),
    ([member("etc/ufw/user.rules"), member("etc/ufw/x", tarfile.LNKTYPE, "etc/shadow")],
     ["archive member 'etc/ufw/x' is a hard link (to 'etc/shadow')"]),
    ([member("etc/ufw/x", tarfile.FIFOTYPE)], ["archive member 'etc/ufw/x' is a device, fifo or other special file"]),
    ([member("etc/ufw/x", tarfile.CHRTYPE)], ["archive member 'etc/ufw/x' is a device, fifo or other special file"]),
    ([member("etc/ufw/x"), member("etc/ufw/x")], ["archive member 'etc/ufw/x' appears twice"]),
    ([member("etc/ufw/a"), member("etc/ufw/a/b")], ["archive member 'etc/ufw/a/b' lies under 'etc/ufw/a', which is not a directory"]),
    ([member("/etc/ufw/x")], ["archive member '/etc/ufw/x' is not a clean relative path"]),
    ([member("etc/ufw/../../root/x")], ["archive member 'etc/ufw/../../root/x' is not a clean relative path"]),
])
def test_archive_links_devices_and_tricks_are_refused(members, says):
    assert bb.check_members(members, bb.CONFIG_PATHS["ufw"]) == says


def test_a_plain_archive_of_files_and_directories_passes():
    members = [member("etc/ufw", tarfile.DIRTYPE), member("etc/ufw/applications.d", tarfile.DIRTYPE),
               member("etc/ufw/applications.d/cups"), member("etc/ufw/user.rules"), member("etc/default/ufw")]
    assert bb.check_members(members, bb.CONFIG_PATHS["ufw"]) == []


def test_ufw_enabled_reads_ufw_conf():
    assert bb.ufw_enabled("# comment\nENABLED=yes\nLOGLEVEL=low\n") is True
    assert bb.ufw_enabled("ENABLED=no\n") is False
    assert bb.ufw_enabled("ENABLED='YES'\n") is True
    assert bb.ufw_enabled("") is False


def test_tar_manifest_sees_content_mode_and_links():
    def archive(content, mode):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo("etc/ufw/user.rules")
            info.size, info.mode = len(content), mode
            tar.addfile(info, io.BytesIO(content))
            link = tarfile.TarInfo("etc/ufw/link")
            link.type, link.linkname = tarfile.SYMTYPE, "user.rules"
            tar.addfile(link)
        buf.seek(0)
        return bb.tar_manifest(tarfile.open(fileobj=buf))

    one = archive(b"a", 0o640)
    assert one["etc/ufw/link"] == ("symlink", None, 0, 0, "user.rules")
    assert bb.manifest_changes(one, archive(b"a", 0o640)) == []
    assert bb.manifest_changes(one, archive(b"b", 0o640)) == ["etc/ufw/user.rules"]
    assert bb.manifest_changes(one, archive(b"a", 0o600)) == ["etc/ufw/user.rules"]
    assert bb.manifest_changes(one, {}) == ["etc/ufw/link", "etc/ufw/user.rules"]
