#!/usr/bin/env bash
# Builds a firmware image for the Arm MPS2 AN386 board and runs it under
# QEMU, with the board's ports forwarded from 127.0.0.1: the TCP PMU (5003)
# on 15003, the UDP reset PMU (5004) on 15004 and, in the c37 image, the
# IEEE C37.118.2 PMU (TCP 4712, UDP 4713) on 14712 and 14713.
#
#   embedded/board.sh                      a shell in which the board is reachable
#   embedded/board.sh -- pmulab pdc 127.0.0.1 15003 CMD_short:0
#   embedded/board.sh --image c37 -- pmulab c37-pdc 127.0.0.1 14712 --frames 50
#   embedded/board.sh --pcap board.pcap --exit-after 30 -- sh -c '…'
#   embedded/board.sh --image pdc-tls --ca ca/ca.crt -- pmulab secure-pmu 5443 pmu.crt pmu_key.pem
#
# Options: --image pmu|c37|pdc-tls (the lab's PMU; it and a C37.118 PMU;
# part 5's PDC), --arg KEY=VALUE (to the firmware, e.g. rate=25 for the c37
# image, port=N for pdc-tls), --pcap FILE, --exit-after SECONDS,
# --tcp-port, --udp-port, --c37-port.
#
# The pdc-tls image is a client: the command (a TLS PMU on port 5443 of
# 127.0.0.1, which the board reaches as 10.0.2.2) starts first, then the
# board, which prints the messages and ends; its status is board.sh's.
# --ca FILE is the CA certificate built into the image (ECDSA P-256, as
# `pmulab ca init` makes it); --name NAME the name the PMU's certificate
# must carry (localhost unless given).
#
# QEMU runs with its user-mode network in a private network namespace that
# holds only a loopback interface: the board can reach nothing but the
# commands run here, even though slirp's "restrict" mode is off (that mode
# drops every UDP reply, so the reset PMU could not answer).
# Needs: qemu-system-arm, binutils-arm-none-eabi, unshare (root or user namespaces).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
tcp_port=15003
udp_port=15004
c37_port=14712
image=pmu
ca=""
name=localhost
pcap=""
exit_after=""
firmware_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --pcap) pcap="$(realpath -m "$2")"; shift 2 ;;
    --exit-after) exit_after="$2"; shift 2 ;;
    --tcp-port) tcp_port="$2"; shift 2 ;;
    --udp-port) udp_port="$2"; shift 2 ;;
    --c37-port) c37_port="$2"; shift 2 ;;
    --image) image="$2"; shift 2 ;;
    --ca) ca="$(realpath -m "$2")"; shift 2 ;;
    --name) name="$2"; shift 2 ;;
    --arg) firmware_args+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    *) echo "board.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$image" in
  pmu|c37) ;;
  pdc-tls)
    [ -n "$ca" ] || { echo "board.sh: --image pdc-tls needs --ca FILE, the CA certificate to build into it (pmulab ca init DIR makes DIR/ca.crt)" >&2; exit 2; }
    [ -r "$ca" ] || { echo "board.sh: cannot read the CA certificate $ca" >&2; exit 2; }
    [ $# -gt 0 ] || { echo "board.sh: --image pdc-tls needs the PMU to run, e.g. -- pmulab secure-pmu 5443 pmu.crt pmu_key.pem" >&2; exit 2; } ;;
  *) echo "board.sh: --image is pmu (the lab's PMU), c37 (it and a C37.118 PMU) or pdc-tls (part 5's PDC), not $image" >&2; exit 2 ;;
esac
for arg in ${firmware_args[@]+"${firmware_args[@]}"}; do
  [[ "$arg" =~ ^[a-z-]+=[0-9]+$ ]] || { echo "board.sh: --arg takes KEY=NUMBER (e.g. rate=25), not $arg" >&2; exit 2; }
done
command=("$@")
if [ ${#command[@]} -eq 0 ]; then
  command=("${SHELL:-/bin/sh}")
fi

for tool in qemu-system-arm arm-none-eabi-size unshare; do
  command -v "$tool" >/dev/null || { echo "board.sh: $tool is missing (apt-get install qemu-system-arm binutils-arm-none-eabi util-linux)" >&2; exit 1; }
done

target_dir="${PMULAB_FIRMWARE_TARGET:-$root/target/firmware}"
echo "board.sh: building the firmware" >&2
features=mps2-an386
[ "$image" = pdc-tls ] && features=mps2-an386,tls
PMULAB_BOARD_CA="$ca" PMULAB_BOARD_PMU_NAME="$name" \
cargo build --quiet --manifest-path "$root/Cargo.toml" -p pmulab-embedded --features "$features" \
  --bin "$image-mps2-an386" --target thumbv7em-none-eabihf --profile firmware --target-dir "$target_dir"
elf="$target_dir/thumbv7em-none-eabihf/firmware/$image-mps2-an386"
arm-none-eabi-size "$elf" >&2

semihosting="enable=on,target=native,arg=$image"
[ -n "$exit_after" ] && semihosting="$semihosting,arg=exit-after=$exit_after"
for arg in ${firmware_args[@]+"${firmware_args[@]}"}; do semihosting="$semihosting,arg=$arg"; done
netdev="user,id=net0,restrict=off,hostfwd=tcp:127.0.0.1:${tcp_port}-10.0.2.15:5003,hostfwd=udp:127.0.0.1:${udp_port}-10.0.2.15:5004"
[ "$image" = pdc-tls ] && netdev="user,id=net0,restrict=off"
[ "$image" = c37 ] && netdev="$netdev,hostfwd=tcp:127.0.0.1:${c37_port}-10.0.2.15:4712,hostfwd=udp:127.0.0.1:$((c37_port + 1))-10.0.2.15:4713"
qemu=(qemu-system-arm -M mps2-an386 -cpu cortex-m4 -nographic -monitor none -serial none
  -semihosting-config "$semihosting" -netdev "$netdev" -net nic,netdev=net0,model=lan9118 -kernel "$elf")
[ -n "$pcap" ] && qemu+=(-object "filter-dump,id=dump,netdev=net0,file=$pcap")

# Inside the namespace: loopback up, the board in the background, wait for
# its "ready" line, run the command, then stop the board (or let
# --exit-after stop it, so that it prints its summary).
inner='
set -u
ip link set lo up
log="$(mktemp)"
"$@" >"$log" 2>&1 &
board=$!
for _ in $(seq 1 200); do
  grep -q "ready" "$log" && break
  kill -0 "$board" 2>/dev/null || break
  sleep 0.05
done
cat "$log" >&2
if ! grep -q "ready" "$log"; then echo "board.sh: the board did not come up" >&2; kill "$board" 2>/dev/null; exit 1; fi
bash -c "$COMMAND_LINE"
status=$?
if [ -n "$EXIT_AFTER" ]; then wait "$board"; else kill "$board" 2>/dev/null; wait "$board" 2>/dev/null; fi
tail -n +2 "$log" | grep -v "^qemu-system-arm: terminating" >&2 || true
rm -f "$log"
exit $status
'
# The client image: the PMU first, then the board in the foreground.
# Job control puts the command in a process group of its own, so that
# stopping it stops whatever it started too.
inner_client='
set -u -m
ip link set lo up
bash -c "$COMMAND_LINE" &
pmu=$!
set +m  # the group is made; no job notices on stderr from here
"$@" | grep -v "^qemu-system-arm: terminating"
status=${PIPESTATUS[0]}
kill -- -"$pmu" 2>/dev/null; wait "$pmu" 2>/dev/null
exit $status
'
[ "$image" = pdc-tls ] && inner="$inner_client"
COMMAND_LINE="$(printf '%q ' "${command[@]}")" EXIT_AFTER="$exit_after" \
  exec unshare -n bash -c "$inner" board "${qemu[@]}"
