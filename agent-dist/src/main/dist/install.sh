#!/bin/sh
# Installs the edgefleet agent from this tarball, like its Debian package does:
#   sudo ./install.sh [--root DIR] [--no-start]
# --root DIR installs into DIR instead of / (an image being built, a test); the service is then
# neither enabled nor started. Run it again to upgrade: the state in /var/lib/edgefleet is kept.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=
start=yes
while [ $# -gt 0 ]; do
    case "$1" in
        --root) [ $# -ge 2 ] || { echo "install.sh: --root needs a directory" >&2; exit 2; }
                root=$(mkdir -p "$2" && cd "$2" && pwd); shift 2 ;;
        --no-start) start=no; shift ;;
        -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (use --root DIR, --no-start)" >&2; exit 2 ;;
    esac
done
if [ -z "$root" ] && [ "$(id -u)" != 0 ]; then
    echo "install.sh: run as root (sudo ./install.sh), or give --root DIR" >&2
    exit 1
fi

home="$root/usr/lib/edgefleet-agent"
unit="$root/usr/lib/systemd/system/edgefleet-agent.service"

# The agent's files: replaced whole, so nothing of an older version stays behind.
mkdir -p "$root/usr/lib"
rm -rf "$home.new"
cp -R "$here/usr/lib/edgefleet-agent" "$home.new"
rm -rf "$home.old"
[ ! -e "$home" ] || mv "$home" "$home.old"
mv "$home.new" "$home"
rm -rf "$home.old"
mkdir -p "$(dirname "$unit")"
cp "$here/usr/lib/systemd/system/edgefleet-agent.service" "$unit"
chmod 0644 "$unit"

# Configuration: the settings file only when there is none (it may have been edited).
mkdir -p "$root/etc/edgefleet/release-keys" "$root/etc/rancher"
[ -e "$root/etc/edgefleet/agent.env" ] || cp "$here/etc/edgefleet/agent.env" "$root/etc/edgefleet/agent.env"
mkdir -p "$root/var/lib/edgefleet"
chmod 0700 "$root/var/lib/edgefleet"

echo "edgefleet agent installed in ${root:-/}"
if [ -n "$root" ] || [ "$start" = no ]; then
    exit 0
fi
if [ ! -d /run/systemd/system ]; then
    echo "No systemd here: start /usr/lib/edgefleet-agent/bin/edgefleet-agent with your init system."
    exit 0
fi
systemctl daemon-reload
if [ -f /etc/edgefleet/bootstrap.json ]; then
    systemctl enable edgefleet-agent.service
    systemctl restart edgefleet-agent.service
    echo "edgefleet-agent started: journalctl -u edgefleet-agent -f"
else
    echo "Place the bootstrap file at /etc/edgefleet/bootstrap.json, then run:" \
        "systemctl enable --now edgefleet-agent"
fi
