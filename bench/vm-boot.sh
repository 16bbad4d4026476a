#!/usr/bin/env bash
# Boot to ready of a tiny virtual machine, the way the agent's VM runtime starts one: QEMU
# daemonized with the runtime's arguments (q35, -nodefaults, KVM where /dev/kvm is usable, software
# emulation otherwise), Debian's cloud kernel (testkit/vm/kernel.sh fetches it) and an initramfs
# with the static BusyBox, whose /init loads the virtio network driver, serves HTTP on a port
# forwarded by QEMU's user network and prints a line on the serial console.
#
#   bench/vm-boot.sh [--runs N=5] [--memory MIB=96]
#
# Prints, per run, the time from starting QEMU to the serial line and to the first HTTP answer
# through the forwarded port, then the median and max of each, and writes
# bench/results/vm-boot-<date>.json.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNS=5 MEMORY=96
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --memory) MEMORY="$2"; shift 2 ;;
    *) echo "usage: bench/vm-boot.sh [--runs N] [--memory MIB]" >&2; exit 2 ;;
  esac
done
command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86_64 is missing (apt-get install qemu-system-x86)" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "/bin/busybox is missing (apt-get install busybox-static)" >&2; exit 1; }
bash "$ROOT/testkit/vm/kernel.sh"
KHOME="${EDGEFLEET_VM_KERNEL_HOME:-${HOME:-/root}/.cache/edgefleet/vm-kernel}"
WORK="$(mktemp -d /tmp/edgefleet-vm-boot-XXXXXX)"
QEMU_PID=""
cleanup() {
  [ -n "$QEMU_PID" ] && kill -9 "$QEMU_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# The initramfs: BusyBox, the virtio network modules in load order, and /init.
MODS="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net"
mkdir -p "$WORK/root/bin" "$WORK/root/lib/modules"
cp /bin/busybox "$WORK/root/bin/busybox"
for m in $MODS; do
  find "$KHOME/modules/kernel" -name "$m.ko" -exec cp {} "$WORK/root/lib/modules/" \;
done
cat > "$WORK/root/init" <<INIT
#!/bin/busybox sh
export PATH=/bin
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /www
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $MODS; do insmod /lib/modules/\$m.ko 2>/dev/null; done
ip link set lo up
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0
echo ok > /www/index.html
httpd -p 8080 -h /www
echo EDGEFLEET-VM-READY > /dev/ttyS0
while true; do sleep 3600; done
INIT
chmod 755 "$WORK/root/init"
(cd "$WORK/root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -9 > "$WORK/initrd.gz")

ACCEL=(-accel tcg)
MODE="software emulation"
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then ACCEL=(-accel kvm -cpu host); MODE=KVM; fi
now_ms() { date +%s%3N; }
serial_ms=() http_ms=()
for run in $(seq "$RUNS"); do
  PORT=$((20000 + RANDOM % 20000))
  rm -f "$WORK/serial.log" "$WORK/qemu.pid"
  t0=$(now_ms)
  qemu-system-x86_64 -name guest=bench -nodefaults -no-user-config -machine q35 "${ACCEL[@]}" \
    -smp 1 -m "${MEMORY}M" -display none \
    -chardev "file,id=serial0,append=on,path=$WORK/serial.log" -serial chardev:serial0 \
    -daemonize -pidfile "$WORK/qemu.pid" -no-shutdown \
    -kernel "$KHOME/vmlinuz" -initrd "$WORK/initrd.gz" -append "console=ttyS0 quiet panic=-1" \
    -netdev "user,id=net0,hostfwd=tcp::$PORT-:8080" -device virtio-net-pci,netdev=net0
  QEMU_PID=$(cat "$WORK/qemu.pid")
  s="" h=""
  deadline=$(( $(now_ms) + 180000 ))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    if [ -z "$s" ] && grep -q EDGEFLEET-VM-READY "$WORK/serial.log" 2>/dev/null; then s=$(( $(now_ms) - t0 )); fi
    if [ -n "$s" ] && curl -s -m 2 "http://127.0.0.1:$PORT/index.html" 2>/dev/null | grep -q ok; then h=$(( $(now_ms) - t0 )); break; fi
    sleep 0.05
  done
  kill -9 "$QEMU_PID" 2>/dev/null || true
  QEMU_PID=""
  [ -n "$h" ] || { echo "run $run: not ready within 180 s" >&2; exit 1; }
  serial_ms+=("$s") http_ms+=("$h")
  printf 'run %d: serial line %5d ms, HTTP answer %5d ms\n' "$run" "$s" "$h"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
maxof() { printf '%s\n' "$@" | sort -n | tail -1; }
ms=$(median "${serial_ms[@]}") mh=$(median "${http_ms[@]}")
xs=$(maxof "${serial_ms[@]}") xh=$(maxof "${http_ms[@]}")
echo "boot to ready ($MODE, ${MEMORY} MiB, $(nproc) cores, $RUNS runs): serial line median $ms ms (max $xs), HTTP answer median $mh ms (max $xh)"
mkdir -p "$ROOT/bench/results"
OUT="$ROOT/bench/results/vm-boot-$(date +%Y%m%d-%H%M%S).json"
printf '{"mode":"%s","memoryMiB":%s,"cores":%s,"runs":%s,"serialMs":{"median":%s,"max":%s},"httpMs":{"median":%s,"max":%s}}\n' \
  "$MODE" "$MEMORY" "$(nproc)" "$RUNS" "$ms" "$xs" "$mh" "$xh" > "$OUT"
echo "written $OUT"
