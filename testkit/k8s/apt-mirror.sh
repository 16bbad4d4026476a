#!/usr/bin/env bash
# Prints the Debian archive mirror this machine's apt is configured with (a URI ending in /debian,
# without the trailing slash), read from apt's own source files in the order apt reads them:
# sources.list, then sources.list.d/*.list (one-line format) and *.sources (deb822) by name.
# Disabled (Enabled: no) and commented-out entries are skipped, as are other archives
# (debian-security, third-party repositories). Fails with a message when there is none.
#
# Usage: apt-mirror.sh [APT_ETC_DIR]   (default: $EDGEFLEET_APT_ETC, else /etc/apt)
set -euo pipefail

etc="${1:-${EDGEFLEET_APT_ETC:-/etc/apt}}"

files=()
[ -f "$etc/sources.list" ] && files+=("$etc/sources.list")
if [ -d "$etc/sources.list.d" ]; then
  while IFS= read -r f; do files+=("$f"); done < <(
    LC_ALL=C find "$etc/sources.list.d" -maxdepth 1 -type f \( -name '*.list' -o -name '*.sources' \) | LC_ALL=C sort
  )
fi

mirror=""
if [ "${#files[@]}" -gt 0 ]; then
  mirror=$(awk '
    function is_mirror(uri) { return uri ~ /^[a-z][a-z0-9+.-]*:\/\/?[^[:space:]]*\/debian\/?$/ }
    function found(uri) { sub(/\/$/, "", uri); print uri; done = 1; exit 0 }
    # deb822: one stanza ends at a blank line or at the end of its file.
    function stanza_end(  n, i, t, u) {
      if (enabled !~ /^(no|false|0)$/) {
        n = split(types, t, /[[:space:]]+/)
        for (i = 1; i <= n; i++) if (t[i] == "deb" || t[i] == "deb-src") { ok = 1 }
        if (ok) {
          n = split(uris, u, /[[:space:]]+/)
          for (i = 1; i <= n; i++) if (is_mirror(u[i])) found(u[i])
        }
      }
      types = ""; uris = ""; enabled = ""; field = ""; ok = 0
    }
    FNR == 1 && prev != "" { if (prev ~ /\.sources$/) stanza_end() }
    { prev = FILENAME }
    FILENAME ~ /\.sources$/ {
      line = $0
      if (line ~ /^#/) next
      if (line ~ /^[[:space:]]*$/) { stanza_end(); next }
      if (line ~ /^[[:space:]]/) {          # continuation of the field above
        if (field == "types") types = types " " line
        else if (field == "uris") uris = uris " " line
        next
      }
      name = tolower(line); sub(/:.*/, "", name)
      value = line; sub(/^[^:]*:[[:space:]]*/, "", value)
      field = name
      if (name == "types") types = value
      else if (name == "uris") uris = value
      else if (name == "enabled") enabled = tolower(value)
      next
    }
    {                                       # one-line format
      line = $0; sub(/#.*/, "", line)
      n = split(line, f, /[[:space:]]+/)
      i = 1
      if (f[i] == "") i++
      if (f[i] != "deb" && f[i] != "deb-src") next
      i++
      if (f[i] ~ /^\[/) { while (i <= n && f[i] !~ /\]$/) i++; i++ }
      if (is_mirror(f[i])) found(f[i])
    }
    END { if (!done && prev ~ /\.sources$/) stanza_end() }
  ' "${files[@]}")
fi

if [ -z "$mirror" ]; then
  printf 'apt-mirror: no Debian mirror (a deb or deb-src source whose URI ends in /debian) in %s\n' \
    "${files[*]:-$etc/sources.list or $etc/sources.list.d/ (none found)}" >&2
  printf 'apt-mirror: configure apt with one, for example "deb http://<mirror>/debian bookworm main"\n' >&2
  exit 1
fi
printf '%s\n' "$mirror"
