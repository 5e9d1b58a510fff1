# -*- coding: utf-8 -*-
# Copyright: netsec.bjnp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every PowerShell script the Windows tasks of netsec.bjnp.firewall run, in one place.

The tasks pass ``win_shell`` the text of ``bjnp_windows_script``; scheduled tasks (the confirm
timer, the detached restore) get ``bjnp_windows_encoded_command``, a ``powershell.exe`` argument
string. Parameters never reach the script as code: they travel as one base64 JSON literal that
the script decodes, so a value can hold any character without quoting. The scripts select our
rules by exact group (``-ceq``, never ``-Group``, whose value is a wildcard pattern) and by the
display-name prefix ``<group> block ``, and remove them by their own instance (their unique ID),
never by display name.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

from ansible.errors import AnsibleFilterError

# CreateProcess takes 32,767 characters; stay far below that and below what Task Scheduler and
# the event log show of an action.
MAX_COMMAND_LINE = 8000

_PREAMBLE = """$ErrorActionPreference = 'Stop'
$P = [System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String('%s')) | ConvertFrom-Json
"""

# Our rules: in the group exactly (case-sensitive, no pattern) and named by bjnp_windows_rules.
_OURS = r"""$group = [string]$P.group
$prefix = $group + ' block '
function Test-Ours {
    param($Rule)
    ([string]$Rule.DisplayName).StartsWith($prefix, [System.StringComparison]::Ordinal)
}
"""

# Removes our rules of the local store (all, or those named in $P.names), each by its own
# instance; rules of the group that are not ours are listed and left alone.
_REMOVE = _OURS + r"""$inGroup = @(Get-NetFirewallRule -PolicyStore PersistentStore | Where-Object { $_.Group -ceq $group })
$ours = @($inGroup | Where-Object { Test-Ours $_ })
$kept = @($inGroup | Where-Object { -not (Test-Ours $_) } | ForEach-Object { [string]$_.DisplayName })
if ($null -ne $P.names) {
    $names = @($P.names)
    $ours = @($ours | Where-Object { $names -ccontains [string]$_.DisplayName })
}
$removed = @()
foreach ($rule in $ours) {
    if (-not $P.check) {
        $rule | Remove-NetFirewallRule
    }
    $removed += [string]$rule.DisplayName
}
$result = ConvertTo-Json -Compress -InputObject ([ordered]@{
    removed = @($removed | Sort-Object)
    kept = @($kept | Sort-Object)
})
"""

# Windows PowerShell by its full path: a SYSTEM task gets no user PATH.
_POWERSHELL = r"""$powershell = Join-Path $env:SystemRoot 'System32\WindowsPowerShell\v1.0\powershell.exe'
"""

# The logging settings of every profile (bjnp_log_attempts, docs/windows.md), as strings.
_LOGGING_READ = r"""function Get-Logging {
    param([string]$Store)
    @(Get-NetFirewallProfile -PolicyStore $Store | ForEach-Object {
        [ordered]@{
            name = [string]$_.Name
            LogBlocked = [string]$_.LogBlocked
            LogFileName = [string]$_.LogFileName
            LogMaxSizeKilobytes = [string]$_.LogMaxSizeKilobytes
        }
    })
}
"""

# Sets each change of $P.set (profile, setting, after; the controller checked them) in the local
# store where it differs, and reads it back: a value the store does not keep is an error, so the
# run is undone. The record of what we changed ($P.text, null: none) is written whole or not at
# all (a temporary file moved over it), or deleted.
_LOGGING_SET = _LOGGING_READ + r"""function Set-Logging {
    $changed = @()
    foreach ($change in @($P.set)) {
        $name = [string]$change.profile
        if ([string]$change.setting -cne 'LogBlocked') {
            throw ('the role changes LogBlocked only, not ' + $change.setting)
        }
        $current = @(Get-Logging 'PersistentStore' | Where-Object { $_.name -ceq $name })
        if ($current.Count -ne 1) {
            throw ('no firewall profile ' + $name)
        }
        if ($current[0].LogBlocked -cne [string]$change.after) {
            Set-NetFirewallProfile -PolicyStore PersistentStore -Name $name -LogBlocked ([string]$change.after)
            $changed += ('{0} LogBlocked {1} -> {2}' -f $name, $current[0].LogBlocked, $change.after)
        }
        $now = @(Get-Logging 'PersistentStore' | Where-Object { $_.name -ceq $name })[0].LogBlocked
        if ($now -cne [string]$change.after) {
            throw ('Set-NetFirewallProfile left LogBlocked of profile {0} at {1}, not {2}' -f $name, $now, $change.after)
        }
    }
    $changed
}
function Save-Record {
    if ($null -eq $P.text) {
        if ([System.IO.File]::Exists($P.record)) {
            [System.IO.File]::Delete($P.record)
            return 'deleted'
        }
        return 'none'
    }
    if ([System.IO.File]::Exists($P.record) -and ([System.IO.File]::ReadAllText($P.record) -ceq [string]$P.text)) {
        return 'kept'
    }
    [System.IO.File]::WriteAllText($P.record + '.tmp', [string]$P.text)
    Move-Item -LiteralPath ($P.record + '.tmp') -Destination $P.record -Force
    'written'
}
function Write-Outcome {
    param($Changed, $Record)
    ConvertTo-Json -Compress -Depth 4 -InputObject ([ordered]@{
        changed = @($Changed)
        record = $Record
        profiles = @(Get-Logging 'PersistentStore')
        effective = @(Get-Logging 'ActiveStore')
    })
}
"""

_SCRIPTS = {
    # The firewall profiles and our group as the host has it: the local store (what we write)
    # and the effective policy (ActiveStore: what is enforced, Group Policy included).
    "state": (("group", "wanted"), _OURS + r"""$wanted = @($P.wanted)
$profiles = @(Get-NetFirewallProfile -PolicyStore ActiveStore | ForEach-Object {
    [ordered]@{ name = [string]$_.Name; enabled = ([string]$_.Enabled -eq 'True') }
})
$local = @(Get-NetFirewallRule -PolicyStore PersistentStore)
$localGroup = @($local | Where-Object { $_.Group -ceq $group })
$activeGroup = @(Get-NetFirewallRule -PolicyStore ActiveStore | Where-Object { $_.Group -ceq $group })
$rules = @($localGroup | Where-Object { Test-Ours $_ } | ForEach-Object {
    $ports = $_ | Get-NetFirewallPortFilter
    $addresses = $_ | Get-NetFirewallAddressFilter
    [ordered]@{
        name = [string]$_.DisplayName
        protocol = ([string]$ports.Protocol).ToLowerInvariant()
        localport = @($ports.LocalPort | ForEach-Object { [string]$_ }) -join ','
        remoteip = @($addresses.RemoteAddress | ForEach-Object { ([string]$_).ToLowerInvariant() }) -join ','
    }
})
$active = @($activeGroup | ForEach-Object {
    [ordered]@{
        name = [string]$_.DisplayName
        enabled = ([string]$_.Enabled -eq 'True')
        action = [string]$_.Action
        direction = [string]$_.Direction
        profile = [string]$_.Profile
    }
})
# Rules in our group that the role did not name: never ours to change or remove.
$foreign = @(@($localGroup + $activeGroup) | Where-Object { -not (Test-Ours $_) } |
    ForEach-Object { [string]$_.DisplayName } | Sort-Object -Unique)
# win_firewall_rule finds a rule by display name in any group, case-insensitively: a rule
# elsewhere that carries one of our names would be changed and moved into our group.
$collisions = @($local | Where-Object {
    $name = [string]$_.DisplayName
    ($wanted -contains $name) -and -not (($_.Group -ceq $group) -and ($wanted -ccontains $name))
} | ForEach-Object { '{0} (group {1})' -f $_.DisplayName, $_.Group })
# Allow rules with "override block rules" (authenticated bypass) beat every block rule.
$bypass = @()
try {
    $bypass = @(Get-NetFirewallSecurityFilter -All -PolicyStore ActiveStore |
        Where-Object { $_.OverrideBlockRules } | Get-NetFirewallRule | Where-Object {
            ([string]$_.Enabled -eq 'True') -and ([string]$_.Direction -eq 'Inbound') -and ([string]$_.Action -eq 'Allow')
        } | ForEach-Object { [string]$_.DisplayName } | Sort-Object -Unique)
} catch {
    $bypass = @('(could not be read: ' + $_.Exception.Message + ')')
}
ConvertTo-Json -Compress -Depth 4 -InputObject ([ordered]@{
    profiles = $profiles
    persistent = @($rules | ForEach-Object { $_.name })
    rules = $rules
    active = $active
    foreign = $foreign
    collisions = $collisions
    bypass = $bypass
})
"""),

    "remove": (("group", "names", "check"), _REMOVE + "$result\n"),
    # The Windows collector (attempts_windows.yml): the effective logging settings, the host's
    # clock and UTC offsets (the log is in local time), and the end of each profile's log file,
    # at most $P.max_bytes in all, newest first: the current file, then its rotated .old while
    # the budget lasts. The firewall service keeps the file open, so it is opened sharing read,
    # write and delete. A file read from inside also sends its first 4 KiB (the #Fields: header).
    "attempts_read": (("since", "max_bytes"), _LOGGING_READ + r"""function Read-Tail {
    param([string]$Path, [long]$Budget, [bool]$Rotated)
    $entry = [ordered]@{ path = $Path; rotated = $Rotated; exists = $false; size = 0; offset = 0; head = ''; data = ''; error = '' }
    try {
        if (-not [System.IO.File]::Exists($Path)) {
            return $entry
        }
        $entry.exists = $true
        $share = [System.IO.FileShare]::ReadWrite -bor [System.IO.FileShare]::Delete
        $stream = [System.IO.File]::Open($Path, [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read, $share)
        try {
            $entry.size = $stream.Length
            $count = [long][Math]::Min($Budget, $stream.Length)
            $entry.offset = $stream.Length - $count
            if ($entry.offset -gt 0) {
                $head = New-Object byte[] ([int][Math]::Min(4096, $stream.Length))
                $got = $stream.Read($head, 0, $head.Length)
                $entry.head = [System.Convert]::ToBase64String($head, 0, $got)
            }
            $buffer = New-Object byte[] ([int]$count)
            $null = $stream.Seek($entry.offset, [System.IO.SeekOrigin]::Begin)
            $read = 0
            while ($read -lt $count) {
                $got = $stream.Read($buffer, [int]$read, [int]($count - $read))
                if ($got -le 0) {
                    break
                }
                $read += $got
            }
            $entry.data = [System.Convert]::ToBase64String($buffer, 0, $read)
        } finally {
            $stream.Dispose()
        }
    } catch {
        $entry.error = $_.Exception.Message
    }
    $entry
}
$now = [DateTimeOffset]::UtcNow
$zone = [TimeZoneInfo]::Local
$start = [DateTimeOffset]::FromUnixTimeSeconds([long]$P.since)
$profiles = @(Get-Logging 'ActiveStore')
$budget = [long]$P.max_bytes
$files = @()
$seen = @{}
foreach ($item in $profiles) {
    if ($item.LogBlocked -cne 'True') {
        continue
    }
    $path = [System.Environment]::ExpandEnvironmentVariables($item.LogFileName)
    if ($seen.ContainsKey($path.ToLowerInvariant())) {
        continue
    }
    $seen[$path.ToLowerInvariant()] = $true
    $current = Read-Tail $path $budget $false
    $budget -= $current.size - $current.offset
    $files += $current
    if ($current.offset -eq 0 -and [System.IO.File]::Exists($path + '.old')) {
        $old = Read-Tail ($path + '.old') $budget $true
        $budget -= $old.size - $old.offset
        $files += $old
    }
}
ConvertTo-Json -Compress -Depth 4 -InputObject ([ordered]@{
    now = $now.ToUnixTimeSeconds()
    offset_now = [int]$zone.GetUtcOffset($now.UtcDateTime).TotalMinutes
    offset_since = [int]$zone.GetUtcOffset($start.UtcDateTime).TotalMinutes
    profiles = $profiles
    files = $files
})
"""),

    # The profiles' logging settings in the local store (what we set) and the effective policy
    # (ActiveStore: a Group Policy may override them), and our record of what we changed, as
    # text the controller checks (null when there is none).
    "logging_state": (("record",), _LOGGING_READ + r"""$record = $null
if ([System.IO.File]::Exists($P.record)) {
    $record = [System.IO.File]::ReadAllText($P.record)
}
ConvertTo-Json -Compress -Depth 4 -InputObject ([ordered]@{
    profiles = @(Get-Logging 'PersistentStore')
    effective = @(Get-Logging 'ActiveStore')
    record = $record
})
"""),

    # bjnp_log_attempts: the record first (what each profile had, what we change), so even an
    # interrupted run leaves what to put back; then LogBlocked True where it is not.
    "logging_enable": (("record", "text", "set"), _LOGGING_SET + r"""$record = Save-Record
$changed = @(Set-Logging)
Write-Outcome $changed $record
"""),

    # Absent, roll-back, rescue: the recorded values back where they differ, then the record
    # rewritten with what is still ours, or deleted.
    "logging_restore": (("record", "text", "set"), _LOGGING_SET + r"""$changed = @(Set-Logging)
$record = Save-Record
Write-Outcome $changed $record
"""),


    # The confirm timer's action (SYSTEM, no session). The marker file is the lock between the
    # timer and the controller: whoever creates it first wins, so a late confirm and the timer
    # can never both think they did it.
    "revert": (("group", "names", "check", "marker"), r"""try {
    $lock = [System.IO.File]::Open($P.marker, [System.IO.FileMode]::CreateNew, [System.IO.FileAccess]::Write)
    $lock.Close()
} catch {
    # Confirmed or disarmed first: nothing to do. Any other failure to lock still reverts.
    if ([System.IO.File]::Exists($P.marker)) {
        exit 0
    }
}
try {
    [System.IO.File]::WriteAllText($P.marker, '{"fired":"' + [DateTime]::UtcNow.ToString('o') + '"}')
} catch {
    $null = $_
}
""" + _REMOVE + r"""[System.IO.File]::WriteAllText($P.marker, $result)
"""),

    # Registers the confirm timer: one run, as SYSTEM, at now + seconds by the host's clock; a
    # run missed while the host was down happens at the next start.
    "arm": (("path", "name", "seconds", "argument", "marker", "description"), _POWERSHELL + r"""if (Test-Path -LiteralPath $P.marker) {
    Remove-Item -LiteralPath $P.marker -Force
}
$at = (Get-Date).AddSeconds([int]$P.seconds)
$action = New-ScheduledTaskAction -Execute $powershell -Argument $P.argument
$trigger = New-ScheduledTaskTrigger -Once -At $at
$principal = New-ScheduledTaskPrincipal -UserId 'S-1-5-18' -LogonType ServiceAccount -RunLevel Highest
$settings = New-ScheduledTaskSettingsSet -StartWhenAvailable -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries `
    -MultipleInstances IgnoreNew -ExecutionTimeLimit (New-TimeSpan -Minutes 30)
$null = Register-ScheduledTask -TaskPath $P.path -TaskName $P.name -Description $P.description -Action $action `
    -Trigger $trigger -Principal $principal -Settings $settings -Force
ConvertTo-Json -Compress -InputObject ([ordered]@{
    task = $P.path + $P.name
    deadline = $at.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ')
})
"""),

    # The confirm: take the lock before the timer does, then delete the timer. When the timer
    # holds the lock already it fired (or is firing): report what it wrote.
    "confirm": (("path", "name", "marker"), r"""$out = [ordered]@{ confirmed = $false; fired = '' }
try {
    $lock = [System.IO.File]::Open($P.marker, [System.IO.FileMode]::CreateNew, [System.IO.FileAccess]::Write)
    $lock.Close()
    [System.IO.File]::WriteAllText($P.marker, '{"confirmed":"' + [DateTime]::UtcNow.ToString('o') + '"}')
    $out.confirmed = $true
} catch {
    # Decided by the file, not the exception type: a .NET error reaches PowerShell wrapped.
    if (-not [System.IO.File]::Exists($P.marker)) {
        throw
    }
    $out.fired = [System.IO.File]::ReadAllText($P.marker)
}
if ($out.confirmed) {
    Unregister-ScheduledTask -TaskPath $P.path -TaskName $P.name -Confirm:$false -ErrorAction SilentlyContinue
}
ConvertTo-Json -Compress -InputObject $out
"""),

    # Stops a timer without confirming (after a rescue, before a roll-back): the lock keeps a
    # start that is already under way from doing anything.
    "disarm": (("path", "name", "marker"), r"""$out = [ordered]@{ existed = $false; fired = '' }
try {
    $lock = [System.IO.File]::Open($P.marker, [System.IO.FileMode]::CreateNew, [System.IO.FileAccess]::Write)
    $lock.Close()
    [System.IO.File]::WriteAllText($P.marker, '{"disarmed":"' + [DateTime]::UtcNow.ToString('o') + '"}')
} catch {
    # Taken already (fired, confirmed or disarmed); else no backup directory, so no timer was armed from it.
    if ([System.IO.File]::Exists($P.marker)) {
        $out.fired = [System.IO.File]::ReadAllText($P.marker)
    }
}
$task = Get-ScheduledTask -TaskPath $P.path -TaskName $P.name -ErrorAction SilentlyContinue
if ($null -ne $task) {
    $out.existed = $true
    Unregister-ScheduledTask -TaskPath $P.path -TaskName $P.name -Confirm:$false
}
ConvertTo-Json -Compress -InputObject $out
"""),

    # Starts the restore as a SYSTEM task of its own, so the import finishes even when it
    # drops the WinRM or SSH session the controller started it from.
    "restore_start": (("path", "name", "argument", "result", "description"), _POWERSHELL + r"""if (Test-Path -LiteralPath $P.result) {
    Remove-Item -LiteralPath $P.result -Force
}
$action = New-ScheduledTaskAction -Execute $powershell -Argument $P.argument
$principal = New-ScheduledTaskPrincipal -UserId 'S-1-5-18' -LogonType ServiceAccount -RunLevel Highest
$settings = New-ScheduledTaskSettingsSet -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries `
    -MultipleInstances IgnoreNew -ExecutionTimeLimit (New-TimeSpan -Minutes 30)
$null = Register-ScheduledTask -TaskPath $P.path -TaskName $P.name -Description $P.description -Action $action `
    -Principal $principal -Settings $settings -Force
Start-ScheduledTask -TaskPath $P.path -TaskName $P.name
ConvertTo-Json -Compress -InputObject ([ordered]@{ task = $P.path + $P.name })
"""),

    # The restore task's action: import only the file whose SHA-256 the controller checked,
    # then write the outcome (tagged with the run's nonce) atomically.
    "restore": (("path", "sha256", "result", "nonce"), r"""# Let the session that started this task return before the import can drop it.
Start-Sleep -Seconds 5
$out = [ordered]@{ done = $true; nonce = $P.nonce; path = $P.path; sha256 = ''; exit = -1; output = '' }
try {
    $out.sha256 = (Get-FileHash -LiteralPath $P.path -Algorithm SHA256).Hash.ToLowerInvariant()
    if ($out.sha256 -ne $P.sha256) {
        $out.output = 'not imported: the file changed after the controller checked its SHA-256'
    } else {
        # Windows PowerShell turns a native command's stderr into errors; 'Stop' would abort on them.
        $ErrorActionPreference = 'Continue'
        $text = & netsh.exe advfirewall import $P.path 2>&1 | Out-String
        $out.exit = $LASTEXITCODE
        $ErrorActionPreference = 'Stop'
        $out.output = $text.Trim()
    }
} catch {
    $out.output = $_.Exception.Message
}
$out.finished = [DateTime]::UtcNow.ToString('o')
[System.IO.File]::WriteAllText($P.result + '.tmp', (ConvertTo-Json -Compress -InputObject $out))
Move-Item -LiteralPath ($P.result + '.tmp') -Destination $P.result -Force
"""),

    "restore_result": (("result",), r"""if (Test-Path -LiteralPath $P.result) {
    [System.IO.File]::ReadAllText($P.result)
} else {
    '{"done":false}'
}
"""),

    "unregister": (("path", "name"), r"""$task = Get-ScheduledTask -TaskPath $P.path -TaskName $P.name -ErrorAction SilentlyContinue
if ($null -ne $task) {
    Unregister-ScheduledTask -TaskPath $P.path -TaskName $P.name -Confirm:$false
}
ConvertTo-Json -Compress -InputObject ([ordered]@{ existed = ($null -ne $task) })
"""),

    # Free bytes on the drive of a directory; -1 for a UNC path (not measured).
    "free_space": (("dir",), r"""$root = [System.IO.Path]::GetPathRoot([string]$P.dir)
if ($root -match '^[A-Za-z]:[\\/]$') {
    (New-Object System.IO.DriveInfo($root)).AvailableFreeSpace
} else {
    -1
}
"""),
}


def script_names():
    return sorted(_SCRIPTS)


def bjnp_windows_script(name, params=None):
    """The PowerShell text of script ``name`` with ``params`` embedded as a base64 JSON literal."""
    if name not in _SCRIPTS:
        raise AnsibleFilterError("bjnp_windows_script: no script %r (there are %s)" % (name, ", ".join(script_names())))
    wanted, body = _SCRIPTS[name]
    params = dict(params or {})
    missing = sorted(set(wanted) - set(params))
    unknown = sorted(set(params) - set(wanted))
    if missing or unknown:
        raise AnsibleFilterError("bjnp_windows_script %s: %s" % (name, "; ".join(
            ["missing parameter(s) %s" % ", ".join(missing)] * bool(missing)
            + ["unknown parameter(s) %s" % ", ".join(unknown)] * bool(unknown))))
    try:
        blob = json.dumps(params, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("bjnp_windows_script %s: parameters are not plain data: %s" % (name, exc))
    return _PREAMBLE % base64.b64encode(blob.encode("utf-8")).decode("ascii") + body


def bjnp_windows_encoded_command(name, params=None):
    """``powershell.exe`` arguments that run script ``name`` (for a scheduled task's action)."""
    encoded = base64.b64encode(bjnp_windows_script(name, params).encode("utf-16-le")).decode("ascii")
    argument = "-NoProfile -NonInteractive -EncodedCommand %s" % encoded
    if len(argument) > MAX_COMMAND_LINE:
        raise AnsibleFilterError("bjnp_windows_encoded_command %s: %d characters, more than the %d a scheduled "
                                 "task's command line is given here" % (name, len(argument), MAX_COMMAND_LINE))
    return argument


class FilterModule(object):
    """netsec.bjnp Windows PowerShell scripts."""

    def filters(self):
        return {
            "bjnp_windows_script": bjnp_windows_script,
            "bjnp_windows_encoded_command": bjnp_windows_encoded_command,
        }
