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
import stat

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


def stamp_of(base):
    """The timestamp part of a generation base."""
    return base.split("-", 1)[0]


def generations(names, backend, broken=(), latest=None):
    """Generations of `backend` found in a directory listing, oldest first.

    Returns a list of (base, [file names of that generation], state). The state is
    "complete" when the metadata file exists and `broken` (bases whose metadata or files
    cannot be used, as the caller found them) does not name it; "future" when its stamp is
    later than the stamp `latest` (a clock set wrong, or a name made to win "newest");
    "incomplete" otherwise. Data files without metadata are an interrupted backup.
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
    result = []
    for base in sorted(found):
        files, has_meta = found[base]
        if latest is not None and stamp_of(base) > latest:
            state = "future"
        elif has_meta and base not in broken:
            state = "complete"
        else:
            state = "incomplete"
        result.append((base, sorted(files), state))
    return result


def select_prune(names, backend, keep, new_base=None, broken=(), latest=None):
    """File names to delete so that `keep` generations of `backend` remain.

    `new_base` is the generation being written now (in check mode not yet in `names`); it is
    counted and never pruned. Only complete generations count towards `keep`; incomplete
    ones older than the newest kept generation are removed too. Generations dated after
    `latest` are neither counted nor removed: they are reported, for a person to look at.
    """
    if keep < 1:
        raise ValueError("keep must be at least 1, got %d" % keep)
    gens = generations(names, backend, broken, latest)
    complete = [base for base, dummy, state in gens if state == "complete" and base != new_base]
    room = keep - 1 if new_base is not None else keep
    kept = set(complete[max(0, len(complete) - room):]) if room > 0 else set()
    if new_base is not None:
        kept.add(new_base)
    newest_kept = max(kept) if kept else None
    doomed = []
    for base, files, state in gens:
        if base in kept or state == "future":
            continue
        # An incomplete generation newer than everything kept may be a backup in progress.
        if state == "incomplete" and newest_kept is not None and base > newest_kept:
            continue
        doomed.extend(files)
    return doomed


def newest(names, backend, broken=(), latest=None):
    """Base of the newest complete generation of `backend` not dated after `latest`, or None."""
    complete = [base for base, dummy, state in generations(names, backend, broken, latest) if state == "complete"]
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


_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_metadata(meta, backend, base=None):
    """Problems with a loaded metadata document, as messages (empty when it is usable).

    Every field the restore uses is checked for its type, so a hand-edited or damaged file
    gives a message, never a traceback. With `base`, the file entries must be exactly the
    files of that generation (a metadata file cannot vouch for another generation's data).
    """
    if not isinstance(meta, dict):
        return ["metadata is not a JSON object"]
    problems = []
    if not _is_int(meta.get("format")) or meta.get("format") != METADATA_FORMAT:
        problems.append("unsupported metadata format %r" % (meta.get("format"),))
    if meta.get("backend") != backend:
        problems.append("backup is for backend %r, not %r" % (meta.get("backend"), backend))
    for key in ("time", "generation", "host", "change_id", "label"):
        if key in meta and not isinstance(meta[key], str):
            problems.append("metadata field %s is %r, not a string" % (key, meta[key]))
    if base is not None and meta.get("generation") != base:
        problems.append("metadata names generation %r, not %r" % (meta.get("generation"), base))
    if "running" in meta and not isinstance(meta["running"], bool):
        problems.append("metadata field running is %r, not true or false" % (meta["running"],))
    if "paths" in meta and not (isinstance(meta["paths"], list) and all(isinstance(p, str) for p in meta["paths"])):
        problems.append("metadata field paths is %r, not a list of strings" % (meta["paths"],))
    files = meta.get("files")
    if not isinstance(files, list):
        problems.append("metadata field files is %r, not a list" % (files,) if "files" in meta else "metadata lists no files")
        return problems
    if not files:
        problems.append("metadata lists no files")
    # Roles are only comparable when the backend is the right one (reported above otherwise).
    roles = dict(BACKENDS[backend]) if meta.get("backend") == backend and backend in BACKENDS else {}
    expected = dict(generation_files(base, backend)) if base is not None and roles else None
    seen = set()
    for entry in files:
        problem = _entry_problem(entry, roles, expected, seen)
        if problem:
            problems.append(problem)
    return problems


def _entry_problem(entry, roles, expected, seen):
    """Why one file entry of the metadata is unusable, or None."""
    if not isinstance(entry, dict) or not all(k in entry for k in ("role", "name", "sha256")):
        return "malformed file entry %r" % (entry,)
    for key in ("role", "name", "sha256"):
        if not isinstance(entry[key], str):
            return "file entry %r: %s is not a string" % (entry, key)
    if posixpath.basename(entry["name"]) != entry["name"] or entry["name"] in ("", ".", ".."):
        return "file entry %r is not a plain file name" % (entry["name"],)
    if "size" in entry and not _is_int(entry["size"]):
        return "file entry %r: size %r is not an integer" % (entry["name"], entry["size"])
    if not _SHA256_RE.match(entry["sha256"]):
        return "file entry %r: sha256 %r is not 64 lowercase hex digits" % (entry["name"], entry["sha256"])
    if roles and entry["role"] not in roles:
        return "file entry %r has role %r, not one of %s" % (entry["name"], entry["role"], ", ".join(sorted(roles)))
    if entry["role"] in seen:
        return "role %r is listed twice" % (entry["role"],)
    seen.add(entry["role"])
    if expected is not None and expected.get(entry["role"]) != entry["name"]:
        return "file entry %r (role %s) is not a file of this generation (%s expected)" % (
            entry["name"], entry["role"], expected.get(entry["role"]))
    return None


def untrusted(mode, uid, euid, directory=False):
    """Why a file (or directory) with this lstat mode and owner may not hold a backup, or None.

    Only a regular file (a real directory) owned by the user running us and writable by
    nobody else is trusted: anyone else who can write it can choose what a restore puts back.
    """
    kind = "directory" if directory else "regular file"
    if stat.S_ISLNK(mode):
        return "it is a symlink"
    if (directory and not stat.S_ISDIR(mode)) or (not directory and not stat.S_ISREG(mode)):
        return "it is %s, not a %s" % (file_kind(mode), kind)
    if uid != euid:
        return "it is owned by uid %d, not by uid %d (the user running this)" % (uid, euid)
    if mode & 0o022:
        who = "group and others" if mode & 0o022 == 0o022 else "group" if mode & 0o020 else "others"
        return "it is writable by %s (mode %04o)" % (who, stat.S_IMODE(mode))
    return None


def file_kind(mode):
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISREG, "a regular file"), (stat.S_ISLNK, "a symlink"),
                       (stat.S_ISFIFO, "a fifo"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "a special file"


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
    """Why an archive member name may not be extracted (None when it may).

    Members must be relative, free of `..`, and inside one of the archived roots.
    """
    if name.startswith("/") or name != posixpath.normpath(name) or ".." in name.split("/"):
        return "archive member %r is not a clean relative path" % (name,)
    for root in roots:
        rel = archive_name(root)
        if name == rel or name.startswith(rel + "/"):
            return None
    return "archive member %r lies outside %s" % (name, ", ".join(roots))


def check_members(members, roots):
    """Why the members (tarfile.TarInfo) of a configuration archive may not be extracted.

    Only regular files and directories, each named once, under one of `roots`, with nothing
    but directories above them: no symlink, hard link, device or fifo, so no member can make
    a later one land outside the tree (`etc/ufw/d -> /victim`, then `etc/ufw/d/x`). Our own
    archives hold nothing else (``config_tree.config_archive`` refuses to write them).
    """
    problems = []
    kinds = {}
    for member in members:
        problem = check_member(member.name, roots)
        if problem is None:
            if member.issym():
                problem = "archive member %r is a symlink (to %r)" % (member.name, member.linkname)
            elif member.islnk():
                problem = "archive member %r is a hard link (to %r)" % (member.name, member.linkname)
            elif not (member.isdir() or member.isfile()):
                problem = "archive member %r is a device, fifo or other special file" % (member.name,)
            elif member.name in kinds:
                problem = "archive member %r appears twice" % (member.name,)
        if problem:
            problems.append(problem)
        kinds.setdefault(member.name, member.isdir())
    for name in sorted(kinds):
        parts = name.split("/")
        above = [p for p in ("/".join(parts[:n]) for n in range(1, len(parts))) if kinds.get(p) is False]
        if above:
            problems.append("archive member %r lies under %r, which is not a directory" % (name, above[0]))
    return problems


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
