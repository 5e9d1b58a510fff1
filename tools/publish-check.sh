#!/usr/bin/env bash
# What Galaxy and the docs tooling say about the collection tarball `make build-check` built:
#   1. galaxy-importer (what Galaxy and Automation Hub run on an upload) with its ansible-doc and
#      ansible-lint passes, offline, without ansible-test (that needs a container runtime and the
#      network; `make sanity` runs it);
#   2. antsibull-docs lint-collection-docs --plugin-docs on the unpacked tarball;
#   3. antsibull-changelog: fragments, changelogs/changelog.yaml, CHANGELOG.rst as it regenerates,
#      galaxy.yml's version against the newest release.
# Any error or finding of any of them fails the run. Tools come from .cache/publish-venv
# (tools/requirements-publish.txt), the dependency collections from ANSIBLE_COLLECTIONS_PATH;
# logs go to .cache/publish/. PUBLISH_STRICT=1 (release day) refuses a galaxy.yml without
# `repository` instead of checking a copy.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.cache/publish-venv"
work="$root/.cache/publish"
py="$venv/bin/python"
start=$SECONDS
problems=0

shopt -s nullglob
tarballs=("$root"/.cache/dist/netsec-bjnp-*.tar.gz)
if [ "${#tarballs[@]}" -ne 1 ]; then
  echo "publish-check: expected one tarball in .cache/dist (run make build-check), found ${#tarballs[@]}" >&2
  exit 1
fi
tarball="${tarballs[0]}"
rm -rf "$work" && mkdir -p "$work"
# Scratch space outside the work tree, as on Galaxy: inside it, ansible-lint would take the work
# tree (its git root) for the project, and ansible-doc finds no collection under .cache.
scratch="$(mktemp -d "${TMPDIR:-/tmp}/bjnp-publish.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
unpacked="$scratch/collections/ansible_collections/netsec/bjnp"
mkdir -p "$scratch/tmp" "$scratch/ansible-tmp" "$unpacked"
tar -xzf "$tarball" -C "$unpacked"

# Galaxy refuses a collection without `repository`. galaxy.yml leaves it out until the project
# has a public URL (tests/unit/test_galaxy_metadata.py refuses placeholders), so the importer
# checks a copy whose MANIFEST.json (which FILES.json does not checksum) names a stand-in, and
# every run says so: the tarball itself would be refused.
import_tarball="$tarball"
if [ -z "$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["collection_info"].get("repository") or "")' "$unpacked/MANIFEST.json")" ]; then
  if [ "${PUBLISH_STRICT:-0}" = 1 ]; then
    echo "publish-check: galaxy.yml has no repository; Galaxy refuses the tarball ('repository' is required)" >&2
    exit 1
  fi
  import_tarball="$scratch/$(basename "$tarball")"
  "$py" - "$tarball" "$import_tarball" <<'EOF'
import io, json, sys, tarfile
with tarfile.open(sys.argv[1]) as src, tarfile.open(sys.argv[2], "w:gz") as dst:
    for member in src.getmembers():
        data = src.extractfile(member) if member.isfile() else None
        if member.name == "MANIFEST.json":
            manifest = json.load(data)
            manifest["collection_info"]["repository"] = "https://repository.invalid/netsec/bjnp"
            raw = json.dumps(manifest, indent=4).encode()
            member.size, data = len(raw), io.BytesIO(raw)
        dst.addfile(member, data)
EOF
  echo "publish-check: NOTE galaxy.yml has no repository: Galaxy would refuse this tarball ('repository' is required);"
  echo "publish-check: NOTE galaxy-importer checks a copy naming https://repository.invalid/netsec/bjnp (PUBLISH_STRICT=1 refuses instead)"
fi

# 1. galaxy-importer with Galaxy's settings, except: no ansible-test (above); Automation Hub's
# required tags on. flake8 stays off as on Galaxy: it reads the filters' YAML docs as Python
# (E999) and wants W503, which pep8 in `make sanity` (ansible-test's rules) leaves out.
cat >"$scratch/galaxy-importer.cfg" <<EOF
[galaxy-importer]
run_ansible_test = false
ansible_test_local_image = false
run_ansible_doc = true
run_ansible_lint = true
offline_ansible_lint = true
run_flake8 = false
check_changelog = true
check_required_tags = true
ansible_local_tmp = $scratch/ansible-tmp
tmp_root_dir = $scratch/tmp
EOF
cp "$scratch/galaxy-importer.cfg" "$work/"
t0=$SECONDS
# Galaxy has neither our ansible.cfg nor our collections path: the importer sets its own.
(cd "$scratch" && env -u ANSIBLE_CONFIG -u ANSIBLE_COLLECTIONS_PATH -u ANSIBLE_COLLECTIONS_PATHS \
  PATH="$venv/bin:$PATH" GALAXY_IMPORTER_CONFIG="$scratch/galaxy-importer.cfg" \
  "$py" -m galaxy_importer.main "$import_tarball") >"$work/galaxy-importer.log" 2>&1 && rc=0 || rc=$?
cp "$scratch/importer_result.json" "$work/" 2>/dev/null || true  # what Galaxy would store and render
findings="$(grep -cE '^(WARNING|ERROR|CRITICAL)' "$work/galaxy-importer.log" || true)"
if [ "$rc" -ne 0 ] || [ "$findings" -ne 0 ] || ! grep -qx 'Importer processing completed successfully' "$work/galaxy-importer.log"; then
  echo "galaxy-importer: exit $rc, $findings findings (.cache/publish/galaxy-importer.log):" >&2
  grep -E '^(WARNING|ERROR|CRITICAL)|Traceback' "$work/galaxy-importer.log" >&2 || tail -20 "$work/galaxy-importer.log" >&2
  problems=$((problems + 1))
else
  echo "galaxy-importer $("$py" -c 'import importlib.metadata as m; print(m.version("galaxy-importer"))'): accepted, 0 findings ($((SECONDS - t0)) s)"
fi

# 2. antsibull-docs on the unpacked tarball. References to other collections are checked against
# galaxy.yml's dependencies (and ansible.builtin), and refused for any other collection; only
# those dependencies are put on its collections path (the whole ansible bundle takes minutes).
t0=$SECONDS
cat >"$scratch/deps.py" <<'EOF'
import json, os, subprocess, sys
from semantic_version import SimpleSpec, Version
manifest, target = sys.argv[1:]
wanted = json.load(open(manifest))["collection_info"]["dependencies"]
listed = json.loads(subprocess.run(["ansible-galaxy", "collection", "list", "--format", "json"],
                                   check=True, capture_output=True, text=True).stdout)
found = {}
for base, collections in listed.items():  # in ANSIBLE_COLLECTIONS_PATH order: the first wins
    for name, info in collections.items():
        found.setdefault(name, (os.path.join(base, *name.split(".")), info["version"]))
missing = 0
for name, spec in sorted(wanted.items()):
    if name not in found or not SimpleSpec(spec).match(Version(found[name][1])):
        print("dependency %s %s: installed %s" % (name, spec, found.get(name, (None, "none"))[1]))
        missing += 1
        continue
    namespace, collection = name.split(".")
    os.makedirs(os.path.join(target, namespace), exist_ok=True)
    os.symlink(found[name][0], os.path.join(target, namespace, collection))
sys.exit(missing)
EOF
if PATH="$venv/bin:$PATH" "$py" "$scratch/deps.py" "$unpacked/MANIFEST.json" "$scratch/collections/ansible_collections" \
    >"$work/antsibull-docs.log" 2>&1; then
  (cd "$unpacked" && env -u ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATH="$scratch/collections" PATH="$venv/bin:$PATH" \
    antsibull-docs lint-collection-docs --plugin-docs --validate-collection-refs all \
    --disallow-unknown-collection-refs .) >>"$work/antsibull-docs.log" 2>&1 || true
fi
if [ ! -s "$work/antsibull-docs.log" ]; then
  echo "antsibull-docs $("$py" -c 'import importlib.metadata as m; print(m.version("antsibull-docs"))') lint-collection-docs --plugin-docs: 0 findings ($((SECONDS - t0)) s)"
else
  echo "antsibull-docs lint-collection-docs: $(wc -l <"$work/antsibull-docs.log") findings (.cache/publish/antsibull-docs.log):" >&2
  cat "$work/antsibull-docs.log" >&2
  problems=$((problems + 1))
fi

# 3. antsibull-changelog: what `release` and `generate` accept and write.
t0=$SECONDS
changelog_ok=1
(cd "$root" && export PATH="$venv/bin:$PATH" && antsibull-changelog lint &&
  antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml &&
  antsibull-changelog generate --output "$work/CHANGELOG.rst" --output-format rst) \
  >"$work/antsibull-changelog.log" 2>&1 || changelog_ok=0
if [ "$changelog_ok" = 1 ] && [ -s "$work/antsibull-changelog.log" ]; then changelog_ok=0; fi
if [ "$changelog_ok" = 1 ] && ! cmp -s "$work/CHANGELOG.rst" "$root/CHANGELOG.rst"; then
  echo "CHANGELOG.rst is not what antsibull-changelog generates from changelogs/changelog.yaml (antsibull-changelog generate):" >>"$work/antsibull-changelog.log"
  diff -u "$root/CHANGELOG.rst" "$work/CHANGELOG.rst" >>"$work/antsibull-changelog.log" 2>&1 || true
  changelog_ok=0
fi
if [ "$changelog_ok" = 1 ] && ! cmp -s "$root/CHANGELOG.rst" "$unpacked/CHANGELOG.rst"; then
  echo "the tarball's CHANGELOG.rst is not the tree's (make build-check)" >>"$work/antsibull-changelog.log"
  changelog_ok=0
fi
if [ "$changelog_ok" = 1 ]; then
  "$py" - "$root" >>"$work/antsibull-changelog.log" 2>&1 <<'EOF' || changelog_ok=0
import os, sys
import yaml
from semantic_version import Version
root = sys.argv[1]
galaxy = Version(yaml.safe_load(open(os.path.join(root, "galaxy.yml")))["version"])
releases = yaml.safe_load(open(os.path.join(root, "changelogs", "changelog.yaml")))["releases"] or {}
newest = max((Version(v) for v in releases), default=None)
if newest is not None and galaxy < newest:
    sys.exit("galaxy.yml version %s is older than the newest release %s in changelogs/changelog.yaml" % (galaxy, newest))
EOF
fi
if [ "$changelog_ok" = 1 ]; then
  echo "antsibull-changelog: fragments, changelog.yaml, CHANGELOG.rst and galaxy.yml's version agree ($((SECONDS - t0)) s)"
else
  echo "antsibull-changelog (.cache/publish/antsibull-changelog.log):" >&2
  cat "$work/antsibull-changelog.log" >&2
  problems=$((problems + 1))
fi

if [ "$problems" -ne 0 ]; then
  echo "publish-check: $problems of 3 checks failed ($((SECONDS - start)) s)" >&2
  exit 1
fi
echo "publish-check: $(basename "$tarball"): 3 of 3 checks passed, 0 findings ($((SECONDS - start)) s)"
