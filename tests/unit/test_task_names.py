# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Task and play names read well before templating: ``ansible-playbook --list-tasks`` (and the
output of a task that fails before its name is rendered) shows them as written, so no name
under roles/ or playbooks/ holds Jinja."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The first play of every playbook: its name is templated on purpose, from extra vars only
# (like `hosts:`), and playbooks/tasks/check.yml reads it as ansible_play_name to tell a
# bjnp_hosts given with -e from one set only in the inventory, which `hosts:` cannot see. No
# variable can tell the two apart (a play var is templated per host, where the inventory's value
# is visible too). --list-tasks renders play names, so this one reads well there.
CHECK_PLAY = ("Check the run before any host is contacted"
              "{{ '' if bjnp_hosts is defined else ' (bjnp_hosts not given)' }}")

# Files that hold variables or metadata, not tasks.
DATA_DIRS = ("defaults", "vars", "meta")
TASK_LISTS = ("pre_tasks", "tasks", "post_tasks", "handlers")


def _yaml_files(root):
    for top in ("roles", "playbooks"):
        for directory, _subdirs, files in os.walk(os.path.join(root, top)):
            for name in sorted(files):
                if name.endswith((".yml", ".yaml")):
                    yield os.path.join(directory, name)


def _kind(root, path):
    """'playbook', 'tasks' or 'data', from where the file is; None for a place we do not know."""
    parts = os.path.relpath(path, root).split(os.sep)
    if parts[0] == "playbooks":
        if len(parts) == 2:
            return "playbook"
        return {"tasks": "tasks", "handlers": "tasks"}.get(parts[1], "data" if parts[1] in DATA_DIRS else None)
    if len(parts) >= 4:  # roles/<role>/<dir>/<file>
        if parts[2] in ("tasks", "handlers"):
            return "tasks"
        if parts[2] in DATA_DIRS:
            return "data"
    return None


def _task_names(tasks, where):
    for index, task in enumerate(tasks or []):
        label = "%s[%d]" % (where, index)
        if "name" in task:
            yield label, task["name"]
        for section in ("block", "rescue", "always"):
            if section in task:
                yield from _task_names(task[section], "%s.%s" % (label, section))


def names_with_jinja(root):
    """([(file, where, name)] of every task or play name holding Jinja, count of names read)."""
    bad, count = [], 0
    for path in _yaml_files(root):
        kind = _kind(root, path)
        relative = os.path.relpath(path, root)
        assert kind is not None, "%s: neither a playbook, a task file nor a vars/defaults/meta file" % relative
        if kind == "data":
            continue
        with open(path) as handle:
            data = yaml.safe_load(handle) or []
        assert isinstance(data, list), "%s: a %s file that is not a list" % (relative, kind)
        found = []
        if kind == "tasks":
            found.extend(_task_names(data, "task"))
        else:
            for index, play in enumerate(data):
                if "name" in play and not (index == 0 and play["name"] == CHECK_PLAY):
                    found.append(("play[%d]" % index, play["name"]))
                for section in TASK_LISTS:
                    found.extend(_task_names(play.get(section), "play[%d].%s" % (index, section)))
        count += len(found)
        bad.extend((relative, where, name) for where, name in found
                   if "{{" in str(name) or "{%" in str(name))
    return bad, count


def test_no_task_or_play_name_holds_jinja():
    bad, count = names_with_jinja(ROOT)
    assert count > 100  # every task file was read
    assert bad == [], "\n".join("%s %s: %r" % item for item in bad)


def test_the_templated_check_play_is_the_first_play_of_every_playbook_and_only_there():
    playbooks = sorted(glob.glob(os.path.join(ROOT, "playbooks", "*.yml")))
    assert len(playbooks) == 5  # detect, monitor, remediate, rollback, verify
    for path in playbooks:
        with open(path) as handle:
            plays = yaml.safe_load(handle)
        assert plays[0]["name"] == CHECK_PLAY, path
        assert all(play.get("name") != CHECK_PLAY for play in plays[1:]), path
    with open(os.path.join(ROOT, "playbooks", "tasks", "check.yml")) as handle:
        assert "ansible_play_name is not search('[(]bjnp_hosts not given[)]$')" in handle.read()
