#!/usr/bin/env bash
# Builds kube-apiserver and kube-controller-manager 1.20.2 once, offline, from Debian's `kubernetes`
# source package (it ships vendor/), with Debian's golang-1.19 in GOPATH mode; installs etcd-server.
# One vendored library is swapped for Debian's newer copy: reflect2 1.0.1 -> 1.0.2 (Go 1.18+ fix).
#
# Result: ${EDGEFLEET_KUBE_HOME:-~/.cache/edgefleet/kubernetes-1.20.2}/bin/{kube-apiserver,kube-controller-manager}
# Re-running is cheap: everything is skipped when both binaries and etcd are already there.
# Concurrent runs wait for each other (flock). An interrupted build starts over cleanly.
#
# Environment:
#   EDGEFLEET_KUBE_HOME        cache dir (default ~/.cache/edgefleet/kubernetes-1.20.2)
#   EDGEFLEET_KUBE_KEEP_BUILD  1 = keep the source tree and Go cache after a successful build
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KUBE_VERSION=1.20.2
DEB_SOURCE=kubernetes
# The Debian version whose upstream part is 1.20.2 ("1.20.5+really1.20.2-…").
DEB_VERSION_RE='really1\.20\.2-'
SUITE=bookworm
GO_PKG=golang-1.19-go
GO_ROOT=/usr/lib/go-1.19

HOME_DIR="${EDGEFLEET_KUBE_HOME:-${HOME:-/root}/.cache/edgefleet/kubernetes-${KUBE_VERSION}}"
BIN_DIR="$HOME_DIR/bin"
WORK="$HOME_DIR/work"
BINARIES=(kube-apiserver kube-controller-manager)
# Bump when the recipe changes: binaries from an older recipe are rebuilt.
RECIPE=2-reflect2-1.0.2

say() { printf '[kube-build %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[kube-build] ERROR: %s\n' "$*" >&2; exit 1; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "not root and no sudo: cannot apt-get install; run as root"
  SUDO=(sudo -n)
fi

binaries_present() {
  local b
  for b in "${BINARIES[@]}"; do [ -x "$BIN_DIR/$b" ] || return 1; done
  [ "$(cat "$BIN_DIR/.recipe" 2>/dev/null)" = "$RECIPE" ]
}

apt_updated=0
apt_install() {
  # Installs the given Debian packages if they are not installed yet.
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  say "apt-get install ${missing[*]}"
  if [ "$apt_updated" = 0 ]; then
    "${SUDO[@]}" apt-get update -qq || die "apt-get update failed"
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

# Runtime needs of kube-up.sh: etcd, openssl (certificates), curl (readiness probes).
runtime_deps() {
  command -v etcd >/dev/null && command -v openssl >/dev/null && command -v curl >/dev/null && return 0
  apt_install etcd-server openssl curl
  command -v etcd >/dev/null || die "etcd-server installed but no etcd on PATH"
}

runtime_deps
mkdir -p "$HOME_DIR"
if binaries_present; then
  say "kube-apiserver and kube-controller-manager $KUBE_VERSION already in $BIN_DIR"
  exit 0
fi

command -v flock >/dev/null || apt_install util-linux
exec 9>"$HOME_DIR/.build.lock"
if ! flock -n 9; then
  say "another kube-build.sh is building; waiting for it"
  flock 9
fi
if binaries_present; then
  say "built by the other run: $BIN_DIR"
  exit 0
fi

start=$(date +%s)
elapsed() { local s=$(( $(date +%s) - start )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

say "one-time build of kube-apiserver + kube-controller-manager $KUBE_VERSION (about 4 min on 2 idle cores, up to 11 when they are busy)"
apt_install "$GO_PKG" rsync make dpkg-dev ca-certificates golang-github-modern-go-reflect2-dev
[ -x "$GO_ROOT/bin/go" ] || die "$GO_ROOT/bin/go missing after installing $GO_PKG"

# ---- fetch the source package through a private apt configuration (deb-src for one suite) ----
rm -rf "$WORK"
mkdir -p "$WORK/apt/lists/partial" "$WORK/apt/cache/archives/partial" "$WORK/src"
# The Debian mirror this machine's apt already uses (its sources.list and sources.list.d).
mirror=$(bash "$HERE/apt-mirror.sh") || die "cannot tell which Debian mirror to fetch the $DEB_SOURCE source package from"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
if [ -r "$keyring" ]; then
  printf 'deb-src [signed-by=%s] %s %s main\n' "$keyring" "$mirror" "$SUITE" >"$WORK/apt/sources.list"
else
  printf 'deb-src %s %s main\n' "$mirror" "$SUITE" >"$WORK/apt/sources.list"
fi
APT_OPTS=(
  -o "Dir::Etc::SourceList=$WORK/apt/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$WORK/apt/lists"
  -o "Dir::Cache=$WORK/apt/cache"
  -o "APT::Sandbox::User=root"
)
say "fetching the $DEB_SOURCE source index from $mirror $SUITE (deb-src)"
apt-get "${APT_OPTS[@]}" update -qq >"$WORK/apt-update.log" 2>&1 \
  || { cat "$WORK/apt-update.log" >&2; die "apt-get update of the private deb-src list failed"; }
deb_version=$(apt-cache "${APT_OPTS[@]}" showsrc "$DEB_SOURCE" 2>/dev/null | awk '/^Version:/ {print $2}' | grep -E "$DEB_VERSION_RE" | head -n1 || true)
[ -n "$deb_version" ] || die "no $DEB_SOURCE source package with upstream $KUBE_VERSION in $SUITE (apt-cache showsrc $DEB_SOURCE)"
say "apt-get source $DEB_SOURCE=$deb_version"
(cd "$WORK/src" && apt-get "${APT_OPTS[@]}" source -qq "$DEB_SOURCE=$deb_version") >"$WORK/apt-source.log" 2>&1 \
  || { tail -n 30 "$WORK/apt-source.log" >&2; die "apt-get source $DEB_SOURCE=$deb_version failed"; }
SRC=$(find "$WORK/src" -mindepth 1 -maxdepth 1 -type d -name "${DEB_SOURCE}-*" | head -n1)
[ -n "$SRC" ] && [ -d "$SRC/vendor" ] || die "unpacked source has no vendor/ directory ($SRC)"

# The vendored github.com/modern-go/reflect2 v1.0.1 is broken with Go >= 1.18: json-iterator then
# panics in the apiserver (nil pointer in reflect2.Type2 / UnsafeMapType.Key) when encoding map
# types. v1.0.2 (the fix, API-compatible, what Kubernetes 1.23 moved to) comes from Debian's
# golang-github-modern-go-reflect2-dev, so the build stays offline.
R2_SRC=/usr/share/gocode/src/github.com/modern-go/reflect2
R2_DST="$SRC/vendor/github.com/modern-go/reflect2"
[ -f "$R2_SRC/go_above_118.go" ] || die "$R2_SRC lacks go_above_118.go: golang-github-modern-go-reflect2-dev too old?"
find "$R2_DST" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' \) -delete
cp "$R2_SRC"/*.go "$R2_SRC"/*.s "$R2_DST"/
say "vendor/github.com/modern-go/reflect2 replaced by Debian's $(dpkg-query -W -f='${Version}' golang-github-modern-go-reflect2-dev) (Go 1.18+ fix)"

# ---- build: GOPATH mode (hack/lib/init.sh sets GO111MODULE=off itself), Debian's Go 1.19 ----
export PATH="$GO_ROOT/bin:$PATH"
export GO111MODULE=off GOFLAGS='' GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0
export HOME="$WORK/home"   # keep the Go build cache and any tool state inside the work dir
mkdir -p "$HOME"
unset GOPATH GOROOT GOBIN
cd "$SRC"

# Prints a progress line every 100 compiled packages (go build -v names each one) and a heartbeat
# every 30 s; the full output goes to a log file.
progress() {
  local log=$1 what=$2 awkopts=()
  # mawk reads a pipe in blocks unless told otherwise; progress should show as it happens.
  awk -W version 2>/dev/null | grep -q mawk && awkopts=(-W interactive)
  awk "${awkopts[@]}" -v what="$what" -v start="$start" -v logfile="$log" '
    function el(  s) { s = systime() - start; return sprintf("%dm%02ds", int(s / 60), s % 60) }
    { print >> logfile }
    /^\+\+\+/ { head = 1; printf "[kube-build +%s] %s\n", el(), $0; fflush(); next }
    head && /^[ \t]+[^ \t]/ { printf "[kube-build +%s]     %s\n", el(), $1; fflush(); next }
    { head = 0 }
    NF == 1 && $0 !~ /^[-+!#]/ && $0 !~ /:/ {
      n++
      if (n % 100 == 0) { printf "[kube-build +%s] %s: %d packages compiled\n", el(), what, n; fflush() }
    }
  '
}

heartbeat() {
  trap 'exit 0' TERM
  while true; do sleep 60 & wait $! || true; say "  ... still building ($(elapsed))"; done
}
heartbeat 9>&- &   # must not inherit the lock fd
hb=$!
trap 'kill $hb 2>/dev/null || true' EXIT

say "make generated_files (code generators, ~1 min)"
if ! make generated_files 2>&1 | progress "$WORK/generated_files.log" "generated_files"; then
  tail -n 40 "$WORK/generated_files.log" >&2
  die "make generated_files failed (full log: $WORK/generated_files.log)"
fi
say "generated_files done after $(elapsed)"

say "go build cmd/kube-apiserver cmd/kube-controller-manager (~3 min)"
if ! hack/make-rules/build.sh -v cmd/kube-apiserver cmd/kube-controller-manager 2>&1 | progress "$WORK/build.log" "go build"; then
  tail -n 40 "$WORK/build.log" >&2
  die "go build failed (full log: $WORK/build.log)"
fi
kill "$hb" 2>/dev/null || true

out="$SRC/_output/bin"
for b in "${BINARIES[@]}"; do [ -x "$out/$b" ] || die "build finished but $out/$b is missing"; done
rm -rf "$BIN_DIR.tmp"
mkdir -p "$BIN_DIR.tmp"
for b in "${BINARIES[@]}"; do cp "$out/$b" "$BIN_DIR.tmp/$b"; done
echo "$RECIPE" >"$BIN_DIR.tmp/.recipe"
"$BIN_DIR.tmp/kube-apiserver" --version >&2 || die "built kube-apiserver does not run"
rm -rf "$BIN_DIR"
mv "$BIN_DIR.tmp" "$BIN_DIR"
cd /
if [ "${EDGEFLEET_KUBE_KEEP_BUILD:-0}" != 1 ]; then
  chmod -R u+w "$WORK" 2>/dev/null || true
  rm -rf "$WORK"
fi
say "done in $(elapsed): $BIN_DIR"
