# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parts of the firewall backups: names, generations, pruning, metadata, ruleset texts.

Nothing here runs a command or touches the file system; the modules firewall_backup and
firewall_restore do that and keep these decisions testable on their own.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import posixpath
import re

METADATA_FORMAT = 1
METADATA_SUFFIX = ".json"

# What each backend's generation holds: role -> file suffix. The first role is the "main" file
# that firewall_backup returns as `path`.
BACKENDS = {
    "nftables": (("ruleset", ".nft"),),
    "iptables-nft": (("ipv4", ".v4"), ("ipv6", ".v6")),
    "iptables-legacy": (("ipv4", ".v4"), ("ipv6", ".v6")),
    "ufw": (("config", ".tar"), ("ipv4", ".v4"), ("ipv6", ".v6")),
    "firewalld": (("config", ".tar"), ("zones", ".zones")),
}

# Configuration trees archived for the backends whose state lives in files.
CONFIG_PATHS = {
    "ufw": ("/etc/ufw", "/etc/default/ufw"),
    "firewalld": ("/etc/firewalld",),
}

# iptables-save / -restore of each variant, per address family.
IPTABLES_COMMANDS = {
    "iptables-nft": {"ipv4": ("iptables-nft-save", "iptables-nft-restore"),
                     "ipv6": ("ip6tables-nft-save", "ip6tables-nft-restore")},
    "iptables-legacy": {"ipv4": ("iptables-legacy-save", "iptables-legacy-restore"),
                        "ipv6": ("ip6tables-legacy-save", "ip6tables-legacy-restore")},
    # ufw drives whatever iptables the alternatives system selects.
    "ufw": {"ipv4": ("iptables-save", "iptables-restore"),
            "ipv6": ("ip6tables-save", "ip6tables-restore")},
}

# 20261125T114655.123456Z: sorts lexically in time order; microseconds keep two runs apart.
STAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"
_STAMP_RE = r"\d{8}T\d{6}\.\d{6}Z"
_NAME_RE = re.compile(r"^(?P<stamp>%s)-(?P<backend>%s)(?P<suffix>\.[a-z0-9]+)$"
                      % (_STAMP_RE, "|".join(re.escape(b) for b in sorted(BACKENDS, key=len, reverse=True))))


def stamp(when):
    """The UTC timestamp used in file names, from an aware or naive-UTC datetime."""
    return when.strftime(STAMP_FORMAT)


def generation_base(when_stamp, backend):
    """`<stamp>-<backend>`: every file of one backup starts with it."""
    if backend not in BACKENDS:
        raise ValueError("unknown backend %r" % (backend,))
    return "%s-%s" % (when_stamp, backend)


def generation_files(base, backend):
    """Role -> file name of every data file of a generation, main file first."""
    return [(role, base + suffix) for role, suffix in BACKENDS[backend]]


def parse_name(name):
    """(stamp, backend, suffix) for a file name of ours, or None for anything else."""
    match = _NAME_RE.match(name)
    if not match:
        return None
    suffix = match.group("suffix")
    backend = match.group("backend")
    known = [s for dummy, s in BACKENDS[backend]] + [METADATA_SUFFIX]
    if suffix not in known:
        return None
    return match.group("stamp"), backend, suffix


def generations(names, backend):
    """Generations of `backend` found in a directory listing, oldest first.

    A generation counts once its metadata file exists: data files without metadata are an
    interrupted backup and are never chosen for a restore (but are pruned with their stamp).
    Returns a list of (base, [file names of that generation], has_metadata).
    """
    found = {}
    for name in names:
        parsed = parse_name(name)
        if parsed is None or parsed[1] != backend:
            continue
        base = generation_base(parsed[0], backend)
        entry = found.setdefault(base, [[], False])
        entry[0].append(name)
        if parsed[2] == METADATA_SUFFIX:
            entry[1] = True
    return [(base, sorted(found[base][0]), found[base][1]) for base in sorted(found)]


def select_prune(names, backend, keep, new_base=None):
    """File names to delete so that `keep` generations of `backend` remain.

    `new_base` is the generation being written now (in check mode not yet in `names`); it is
    counted and never pruned. Only complete generations count towards `keep`; incomplete
    ones older than the oldest kept generation are removed too.
    """
    if keep < 1:
        raise ValueError("keep must be at least 1, got %d" % keep)
    gens = generations(names, backend)
    complete = [base for base, dummy, meta in gens if meta and base != new_base]
    room = keep - 1 if new_base is not None else keep
    kept = set(complete[max(0, len(complete) - room):]) if room > 0 else set()
    if new_base is not None:
        kept.add(new_base)
    newest_kept = max(kept) if kept else None
    doomed = []
    for base, files, meta in gens:
        if base in kept:
            continue
        # An incomplete generation newer than everything kept may be a backup in progress.
        if not meta and newest_kept is not None and base > newest_kept:
            continue
        doomed.extend(files)
    return doomed


def newest(names, backend):
    """Base of the newest complete generation of `backend`, or None."""
    complete = [base for base, dummy, meta in generations(names, backend) if meta]
    return complete[-1] if complete else None


def base_of(name):
    """Generation base of any file of a generation (data or metadata), or None."""
    parsed = parse_name(posixpath.basename(name))
    if parsed is None:
        return None
    return generation_base(parsed[0], parsed[1])


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def build_metadata(when_iso, backend, base, host, change_id, label, files, extra=None):
    """The JSON sidecar: what, when, where, why, and a checksum per file.

    `files` is a list of (role, name, bytes).
    """
    meta = {
        "format": METADATA_FORMAT,
        "time": when_iso,
        "backend": backend,
        "generation": base,
        "host": host,
        "change_id": change_id,
        "label": label,
        "files": [{"role": role, "name": name, "size": len(data), "sha256": sha256_hex(data)}
                  for role, name, data in files],
    }
    if extra:
        meta.update(extra)
    return meta


def check_metadata(meta, backend):
    """Problems with a loaded metadata document, as messages (empty when it is usable)."""
    problems = []
    if not isinstance(meta, dict):
        return ["metadata is not a JSON object"]
    if meta.get("format") != METADATA_FORMAT:
        problems.append("unsupported metadata format %r" % (meta.get("format"),))
    if meta.get("backend") != backend:
        problems.append("backup is for backend %r, not %r" % (meta.get("backend"), backend))
    files = meta.get("files")
    if not isinstance(files, list) or not files:
        problems.append("metadata lists no files")
    else:
        for entry in files:
            if not isinstance(entry, dict) or not all(k in entry for k in ("role", "name", "sha256")):
                problems.append("malformed file entry %r" % (entry,))
            elif posixpath.basename(entry["name"]) != entry["name"]:
                problems.append("file entry %r is not a plain file name" % (entry["name"],))
    return problems


# --- ruleset texts ------------------------------------------------------------------------

_COUNTER_RE = re.compile(r"\[\d+:\d+\]")
_NFT_COUNTER_RE = re.compile(r"\bcounter packets \d+ bytes \d+")
_NFT_QUOTA_USED_RE = re.compile(r"\bused \d+ (bytes|kbytes|mbytes)")


def normalize_iptables(text):
    """iptables-save output without comments (timestamps) and with zeroed counters."""
    lines = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        lines.append(_COUNTER_RE.sub("[0:0]", line))
    return "\n".join(lines) + ("\n" if lines else "")


def normalize_nft(text):
    """`nft list ruleset` output with counters zeroed, so rulesets compare by meaning."""
    text = _NFT_COUNTER_RE.sub("counter packets 0 bytes 0", text)
    return _NFT_QUOTA_USED_RE.sub(r"used 0 \1", text)


def without_unused_tables(normalized):
    """A normalized dump without tables that hold no rule, no user chain and only ACCEPT policies.

    iptables-legacy tables stay registered once used, so such a table is how "never used"
    looks after a restore.
    """
    out = []
    section = []
    for line in normalized.splitlines(True):
        if line.startswith("*"):
            section = [line]
        elif section:
            section.append(line)
            if line.strip() == "COMMIT":
                body = section[1:-1]
                unused = all(entry.startswith(":") and entry.split()[1] == "ACCEPT" for entry in body)
                if not unused:
                    out.extend(section)
                section = []
        else:
            out.append(line)
    return "".join(out + section)


def nft_restore_script(saved):
    """An `nft -f` input replacing the whole ruleset with `saved` in one transaction."""
    if saved and not saved.endswith("\n"):
        saved += "\n"
    return "flush ruleset\n" + saved


def iptables_tables(text):
    """Ordered list of (table, [built-in chain, ...]) in an iptables-save dump.

    Built-in chains are those with a policy (user chains carry `-`).
    """
    tables = []
    current = None
    for line in text.splitlines():
        if line.startswith("*"):
            current = (line[1:].strip(), [])
            tables.append(current)
        elif line.startswith(":") and current is not None:
            parts = line[1:].split()
            if len(parts) >= 2 and parts[1] != "-":
                current[1].append(parts[0])
    return tables


def absent_tables(live, saved):
    """Tables in the live dump that the saved dump does not hold: (table, built-in chains)."""
    saved_names = set(name for name, dummy in iptables_tables(saved))
    return [(name, chains) for name, chains in iptables_tables(live) if name not in saved_names]


def empty_table_section(table, chains):
    """An iptables-restore section that leaves `table` empty with ACCEPT policies."""
    lines = ["*%s" % table] + [":%s ACCEPT [0:0]" % chain for chain in chains] + ["COMMIT"]
    return "\n".join(lines) + "\n"


def iptables_restore_input(saved, live, can_delete_tables):
    """The iptables-restore input and the tables to delete afterwards.

    iptables-restore replaces every table its input names and leaves the others alone, so a
    table created after the backup would survive. With iptables-nft such a table is deleted
    (returned for `nft delete table`); iptables-legacy tables cannot be unregistered, so they
    are emptied with ACCEPT policies, which is what an unused table looks like.
    """
    extra = absent_tables(live, saved)
    if saved and not saved.endswith("\n"):
        saved += "\n"
    if can_delete_tables:
        return saved, [name for name, dummy in extra]
    return saved + "".join(empty_table_section(name, chains) for name, chains in extra), []


# --- configuration archives ---------------------------------------------------------------

def archive_name(path):
    """Member name of an absolute path in our archives (no leading slash)."""
    return posixpath.normpath(path).lstrip("/")


def check_member(name, roots):
    """Why an archive member may not be extracted (None when it may).

    Members must be relative, free of `..`, and inside one of the archived roots.
    """
    if name.startswith("/") or name != posixpath.normpath(name) or ".." in name.split("/"):
        return "archive member %r is not a clean relative path" % (name,)
    for root in roots:
        rel = archive_name(root)
        if name == rel or name.startswith(rel + "/"):
            return None
    return "archive member %r lies outside %s" % (name, ", ".join(roots))


def ufw_enabled(conf_text):
    """Whether /etc/ufw/ufw.conf says ENABLED=yes."""
    for line in conf_text.splitlines():
        line = line.strip()
        if line.startswith("ENABLED="):
            return line.split("=", 1)[1].strip().strip("'\"").lower() == "yes"
    return False


def tar_manifest(tar):
    """What an open tarfile holds: member name -> (kind, mode, uid, gid, content or link).

    Compared with the same view of the live files to tell whether a restore would change
    anything.
    """
    manifest = {}
    for member in tar.getmembers():
        name = posixpath.normpath(member.name)
        if member.isdir():
            entry = ("dir", member.mode & 0o7777, member.uid, member.gid, None)
        elif member.issym():
            entry = ("symlink", None, member.uid, member.gid, member.linkname)
        elif member.isfile():
            entry = ("file", member.mode & 0o7777, member.uid, member.gid,
                     sha256_hex(tar.extractfile(member).read()))
        else:
            entry = ("other", member.mode & 0o7777, member.uid, member.gid, None)
        manifest[name] = entry
    return manifest


def manifest_changes(saved, live):
    """Sorted names that differ between two manifests (added, removed or modified)."""
    return sorted(name for name in set(saved) | set(live) if saved.get(name) != live.get(name))
