#!/usr/bin/env bash
# The netsec.bjnp demo lab: podman containers on two internal podman networks, then the
# maintenance-window workflow detect -> remediate -> verify -> monitor (a forgotten print
# server named, allowed by a second remediate) -> rollback -> detect.
#
#   bash tests/lab/demo.sh          build (or rebuild) the lab and run the workflow
#   bash tests/lab/demo.sh up       build the lab only (tests/lab/inventory.yml drives it)
#   bash tests/lab/demo.sh clean    remove every container and network of the lab
#
# Run from `make demo` (which exports CONTAINERS_CONF, ANSIBLE_CONFIG, ANSIBLE_COLLECTIONS_PATH
# and PATH) or with the same variables. Both networks are `--internal`: no route leaves them,
# so every probe and print job stays between the lab's own containers.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
image="${BJNP_IMAGE:-localhost/netsec-bjnp-debian12:latest}"
# A second lab (the integration test's) can run beside the demo with its own names, subnets
# and inventory: BJNP_LAB_PREFIX, BJNP_LAB_OFFICE / BJNP_LAB_PRINTERS (first three octets),
# BJNP_LAB_INVENTORY.
prefix="${BJNP_LAB_PREFIX:-bjnp-lab}"
office="${BJNP_LAB_OFFICE:-10.89.61}"
printers="${BJNP_LAB_PRINTERS:-10.89.62}"
office_net="$prefix-office"
office_subnet="$office.0/24"
printers_net="$prefix-printers"
printers_subnet="$printers.0/24"
inventory="${BJNP_LAB_INVENTORY:-$here/inventory.yml}"
report_dir="${BJNP_DEMO_REPORT_DIR:-$repo/reports/demo}"
containers=(controller printserver printserver-2 printhost gateway printer-1)

# The lab's addresses; tests/lab/inventory.yml names the same ones.
# printserver-2 is the print server someone forgot in bjnp_allowed_sources.
declare -A office_ip=([controller]="$office.10" [printserver]="$office.20" [printserver-2]="$office.21"
                      [printhost]="$office.30" [gateway]="$office.2")
printer_ip="$printers.50"
gateway_printers_ip="$printers.2"

export CONTAINERS_CONF="${CONTAINERS_CONF:-$repo/tests/podman/containers.conf}"
export ANSIBLE_CONFIG="${ANSIBLE_CONFIG:-$repo/ansible.cfg}"
# The venv to run: an activated one (VIRTUAL_ENV, e.g. a tools/matrix venv), else the checkout's .venv.
venv="${VIRTUAL_ENV:-$repo/.venv}"
export ANSIBLE_COLLECTIONS_PATH="${ANSIBLE_COLLECTIONS_PATH:-$repo/.cache/collections:$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')}"
export PATH="$venv/bin:$PATH"
export ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-0}"

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

clean() {
  local name
  for name in "${containers[@]}"; do
    podman rm -f -t 0 "$prefix-$name" >/dev/null 2>&1 || true
  done
  for name in "$office_net" "$printers_net"; do
    podman network rm -f "$name" >/dev/null 2>&1 || true
  done
}

# A network of ours is reused when it has our subnet; another user of the subnet stops the demo.
ensure_network() {
  local name="$1" subnet="$2" current
  if podman network exists "$name"; then
    current="$(podman network inspect --format '{{range .Subnets}}{{.Subnet}} {{end}}' "$name")"
    [ "${current% }" = "$subnet" ] && return 0
    die "podman network $name exists with subnet '$current', not $subnet: run '$0 clean'"
  fi
  if ip -o route show | grep -q "^${subnet%.*/*}\."; then
    die "subnet $subnet is already routed on this machine: pick another (edit $0 and the inventory)"
  fi
  if podman network ls --format '{{.Name}}' | while read -r other; do
       podman network inspect --format '{{range .Subnets}}{{.Subnet}} {{end}}' "$other"
     done | grep -qw "$subnet"; then
    die "another podman network already uses $subnet"
  fi
  podman network create --internal --subnet "$subnet" "$name" >/dev/null 2>&1 ||
    podman network exists "$name" || die "podman network create $name failed"
}

run_container() {
  local name="$1"; shift
  podman run -d --name "$prefix-$name" --hostname "$name" \
    --cap-add NET_ADMIN --cap-add NET_RAW "$@" "$image" sleep infinity >/dev/null
}

in_lab() { local name="$1"; shift; podman exec "$prefix-$name" "$@"; }

# The emulator plays the printer; --ready-file says when every socket is bound.
start_emulator() {
  local name="$1"; shift
  podman cp "$here/bjnp_emulator.py" "$prefix-$name:/usr/local/bin/bjnp_emulator.py"
  in_lab "$name" sh -c 'rm -f /run/bjnp-emulator.ready; mkdir -p /var/spool/bjnp'
  podman exec -d "$prefix-$name" sh -c 'exec python3 /usr/local/bin/bjnp_emulator.py "$@" \
    >/var/log/bjnp-emulator.log 2>&1' emulator \
    --spool /var/spool/bjnp --ready-file /run/bjnp-emulator.ready "$@" >/dev/null
  local _
  for _ in $(seq 50); do
    in_lab "$name" test -e /run/bjnp-emulator.ready && return 0
    sleep 0.1
  done
  die "the emulator in $name did not become ready"
}

up() {
  podman image exists "$image" || die "image $image is missing: run 'make image'"
  [ -f "$here/bjnp_emulator.py" ] || die "tests/lab/bjnp_emulator.py is missing"
  say "Building the lab (a re-run starts from fresh containers)"
  local name
  for name in "${containers[@]}"; do
    podman rm -f -t 0 "$prefix-$name" >/dev/null 2>&1 || true
  done
  ensure_network "$office_net" "$office_subnet"
  ensure_network "$printers_net" "$printers_subnet"

  # The hosts whose rules log (bjnp_log_attempts) read the kernel log the way a real host does:
  # /dev/kmsg, with CAP_SYSLOG. The kernel logs packets of a container's own network namespace
  # only with nf_log_all_netns (a runtime setting of this machine, gone at reboot).
  sysctl -q -w net.netfilter.nf_log_all_netns=1
  local kernel_log=(--device /dev/kmsg --cap-add SYSLOG)
  run_container controller --network "$office_net:ip=${office_ip[controller]}"
  run_container printserver --network "$office_net:ip=${office_ip[printserver]}"
  run_container printserver-2 --network "$office_net:ip=${office_ip[printserver-2]}"
  run_container printhost --network "$office_net:ip=${office_ip[printhost]}" "${kernel_log[@]}"
  run_container gateway --network "$office_net:ip=${office_ip[gateway]}" \
    --network "$printers_net:ip=$gateway_printers_ip" --sysctl net.ipv4.ip_forward=1 "${kernel_log[@]}"
  run_container printer-1 --network "$printers_net:ip=$printer_ip"

  # Internal networks have no default route: the office reaches the printers through gateway.
  for name in controller printserver printserver-2 printhost; do
    in_lab "$name" ip route add "$printers_subnet" via "${office_ip[gateway]}"
  done
  in_lab printer-1 ip route add "$office_subnet" via "$gateway_printers_ip"

  # Each host already has a firewall of its own that the role must leave alone.
  in_lab printhost sh -c 'nft -f - <<EOF
table inet filter {
  chain input {
    type filter hook input priority filter; policy accept;
    ct state established,related accept
    tcp dport 22 accept
  }
}
EOF'
  in_lab gateway iptables -w -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  in_lab gateway iptables -w -t nat -A POSTROUTING -s "$printers_subnet" ! -d "$office_subnet" -j MASQUERADE

  start_emulator printer-1 --bind "$printer_ip" --manufacturer Canon --model "MG5200 series" \
    --description "Canon MG5200 series" --mac 00:1e:8f:12:34:56
  # printhost shares a printer itself: raw printing on 9100 and BJNP on 8611 only.
  start_emulator printhost --bind "${office_ip[printhost]}" --manufacturer Canon \
    --model "TS8350 series" --description "Canon TS8350 series" --mac 00:1e:8f:65:43:21 \
    --udp-ports 8611 --tcp-ports 8611,9100
  echo "lab up: printer-1 $printer_ip, printhost ${office_ip[printhost]}, gateway" \
       "${office_ip[gateway]}/$gateway_printers_ip, printserver ${office_ip[printserver]}," \
       "controller ${office_ip[controller]}"
}

spool_count() { in_lab "$1" find /var/spool/bjnp -type f | wc -l; }

# printhost's nftables ruleset and gateway's iptables (both families) without counters: what
# the refusal and the preview must leave alone, and what the roll-back must bring back.
rulesets() {
  in_lab printhost nft list ruleset
  in_lab gateway sh -c 'iptables-save; ip6tables-save' | sed -e '/^#/d' -e 's/\[[0-9]*:[0-9]*\]/[0:0]/'
}

# One value of a report's JSON (the report module's <name>-latest.json copy): `value detect
# summary.exposed`; `value remediate backends` lists "host backend" for each managed host.
value() {
  python3 - "$report_dir/$1-latest.json" "$2" <<'EOF'
import json
import sys
node = json.load(open(sys.argv[1]))
if sys.argv[2] == "backends":
    print(", ".join("%s %s" % (m["inventory_hostname"], (m.get("firewall") or {}).get("backend")) for m in node["managed"]))
else:
    for key in sys.argv[2].split("."):
        node = node[key]
    print(node)
EOF
}
counts() { echo "$(value "$1" summary.exposed) / $(value "$1" summary.open_ports)"; }

# A print server retrying raw print the way CUPS does: $2 connection attempts to 9100 of each
# printer, each ended before TCP would resend its SYN (so one attempt is one logged packet).
knock() {
  in_lab "$1" python3 -c '
import socket, sys
for address in sys.argv[2:]:
    for attempt in range(int(sys.argv[1])):
        sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
        sock.settimeout(0.5)
        try:
            sock.connect((address, 9100))
            sys.exit("%s:9100 accepted a connection: not blocked" % address)
        except OSError:
            pass
        finally:
            sock.close()
' "$2" "$printer_ip" "${office_ip[printhost]}"
  echo "ok: $1 tried 9100 $2 times on printer-1 and printhost, blocked every time"
}

# One raw print job from a container to a printer's 9100.
print_job() {
  in_lab "$1" python3 -c '
import socket, sys
with socket.create_connection((sys.argv[1], 9100), timeout=5) as sock:
    sock.sendall(b"%!PS netsec.bjnp demo job\n")
' "$2"
}

# The allow entry monitor suggests for address $1, checked against the report: the only
# suspected print server, seen on both hosts with $2 connections in all.
suspect() {
  python3 - "$report_dir/monitor-latest.json" "$1" "$2" <<'EOF'
import json
import sys
report = json.load(open(sys.argv[1]))
suspects = report["suspected_print_servers"]
expected = [(sys.argv[2], int(sys.argv[3]), ["gateway", "printhost"])]
found = [(s["address"], s["connections"], sorted(s["hosts"])) for s in suspects]
if found != expected:
    sys.exit("monitor suspected %s, expected %s" % (found, expected))
per_host = dict((m["inventory_hostname"], m["attempts"]) for m in report["managed"])
if per_host != {"gateway": 3, "printhost": 3}:
    sys.exit("monitor counted %s attempts, expected 3 on each host" % per_host)
print(suspects[0]["allow_entry"])
EOF
}

declare -a steps=()
step() {
  local label="$1"; shift
  say "$label: $*"
  local start=$SECONDS
  "$@"
  steps+=("$(printf '%-38s %4ss' "$label" "$((SECONDS - start))")")
}

playbook() {
  ansible-playbook -i "$inventory" -e bjnp_hosts=bjnp_lab_targets \
    -e "bjnp_report_dir=$report_dir" "$@"
}

# remediate needs a change id: its first play must refuse before any host is contacted.
refused() {
  local log
  log="$(mktemp)"
  if "$@" >"$log" 2>&1; then
    cat "$log"; rm -f "$log"; die "remediate ran without a change id"
  fi
  grep -q 'netsec.bjnp.remediate needs a change id' "$log" || { cat "$log"; rm -f "$log"; die "remediate failed for another reason"; }
  rm -f "$log"
  echo "ok: refused without bjnp_change_id"
}

expect() {
  local what="$1" got="$2" want="$3"
  [ "$got" = "$want" ] || die "$what: expected $want, got $got"
  echo "ok: $what = $got"
}

unchanged() {
  [ "$(rulesets)" = "$original" ] || die "$1: the rulesets differ from the original"
  echo "ok: $1: rulesets unchanged"
}

flow() {
  local began="$1" exposed before after_fix after_verify after_rollback backends suggestion
  local -a jobs_start jobs_fixed jobs_verified
  rm -rf "$report_dir"
  original="$(rulesets)"
  step "1 detect (read-only)" playbook netsec.bjnp.detect
  exposed="$(value detect summary.exposed)"
  before="$(counts detect)"
  [ "$exposed" -ge 2 ] || die "detect found $exposed exposed addresses, expected printhost and printer-1"
  echo "ok: detect: $before exposed addresses / open ports"

  step "2 remediate without a change id" refused playbook netsec.bjnp.remediate
  unchanged "after the refusal"
  step "3 remediate --check --diff (preview)" playbook netsec.bjnp.remediate --check --diff -e bjnp_change_id=DEMO-1
  unchanged "after the preview"

  jobs_start=("$(spool_count printer-1)" "$(spool_count printhost)")
  step "4 remediate" playbook netsec.bjnp.remediate -e bjnp_change_id=DEMO-1
  after_fix="$(counts remediate)"
  expect "exposed addresses / open ports after remediate" "$after_fix" "0 / 0"
  backends="$(value remediate backends)"
  jobs_fixed=("$(spool_count printer-1)" "$(spool_count printhost)")

  step "5 verify" playbook netsec.bjnp.verify
  after_verify="$(counts verify)"
  expect "exposed addresses / open ports at verify" "$after_verify" "0 / 0"
  jobs_verified=("$(spool_count printer-1)" "$(spool_count printhost)")
  local i
  for i in 0 1; do
    [ "${jobs_fixed[i]}" -gt "${jobs_start[i]}" ] && [ "${jobs_verified[i]}" -gt "${jobs_fixed[i]}" ] && continue
    die "printserver's test jobs did not all arrive (printer-1 ${jobs_start[0]} -> ${jobs_fixed[0]} -> ${jobs_verified[0]}," \
        "printhost ${jobs_start[1]} -> ${jobs_fixed[1]} -> ${jobs_verified[1]})"
  done
  echo "ok: printserver still prints: its test jobs reached both printers after remediate and at verify"

  local since jobs_forgotten jobs_allowed
  since="$(date +%s)"
  sleep 1
  jobs_forgotten=("$(spool_count printer-1)" "$(spool_count printhost)")
  step "6 printserver-2 (not allowed) tries to print" knock printserver-2 3
  [ "$(spool_count printer-1) $(spool_count printhost)" = "${jobs_forgotten[*]}" ] ||
    die "printserver-2's attempts got through before it was allowed"
  step "7 monitor (read-only)" playbook netsec.bjnp.monitor -e "bjnp_monitor_since=$since"
  suggestion="$(suspect "${office_ip[printserver-2]}" 6)"
  echo "ok: monitor names printserver-2 with 3 attempts on each host and suggests $suggestion"

  step "8 remediate with the suggested entry" playbook netsec.bjnp.remediate -e bjnp_change_id=DEMO-2 \
    -e "{\"bjnp_allowed_sources\": [\"${office_ip[printserver]}\", \"$suggestion\"]}"
  jobs_allowed=("$(spool_count printer-1)" "$(spool_count printhost)")
  print_job printserver-2 "$printer_ip"
  print_job printserver-2 "${office_ip[printhost]}"
  sleep 1
  expect "printserver-2's jobs after it was allowed (printer-1 printhost)" \
    "$(spool_count printer-1) $(spool_count printhost)" "$((jobs_allowed[0] + 1)) $((jobs_allowed[1] + 1))"

  step "9 remediate --tags rollback" playbook netsec.bjnp.remediate --tags rollback -e bjnp_change_id=DEMO-2
  unchanged "after the roll-back"
  step "10 detect again" playbook netsec.bjnp.detect
  after_rollback="$(counts detect)"
  expect "exposed addresses / open ports after rollback" "$after_rollback" "$before"

  say "Summary"
  printf '  %s\n' "${steps[@]}"
  printf '  %-38s %4ss\n' "total (with the lab build)" "$((SECONDS - began))"
  echo "  exposed addresses / open BJNP+9100 ports: $before before, $after_fix after remediate" \
       "($after_verify at verify), $after_rollback after rollback"
  echo "  rulesets unchanged by the refusal and the --check preview; the roll-back restored them exactly"
  echo "  firewall: $backends; allowed source printserver"
  echo "  monitor: printserver-2 (forgotten) knocked 3 times on each host, suggested $suggestion;" \
       "allowed by the second remediate, its jobs reached both printers"
  echo "  printserver's test jobs in the spool: printer-1 (through gateway) ${jobs_start[0]} -> ${jobs_verified[0]}," \
       "printhost ${jobs_start[1]} -> ${jobs_verified[1]}"
  echo "  reports (JSON, JUnit XML, HTML) in $report_dir:"
  local name
  for name in detect remediate verify monitor rollback; do
    echo "    $name-latest.json $name-latest.xml $name-latest.html"
  done
}

case "${1:-all}" in
  clean) clean; echo "demo lab removed" ;;
  up) up ;;
  all) began=$SECONDS; step "0 build the lab" up; flow "$began" ;;
  *) die "usage: $0 [all|up|clean]" ;;
esac
