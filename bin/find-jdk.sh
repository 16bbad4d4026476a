# Sourced by ./mvnw and ./edgefleet (POSIX sh). Exports JAVA_HOME pointing at a JDK >= 21:
# JAVA_HOME if it is new enough, else the newest JDK under /usr/lib/jvm, else a clear error.
edgefleet_java_major() {
  # The JDK's release file answers without starting a JVM; ask the JVM only if it is missing.
  if [ -f "$1/release" ]; then
    sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release" | head -n 1
  else
    "$1/bin/java" -XshowSettings:properties -version 2>&1 |
      sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n 1
  fi
}

edgefleet_find_jdk() {
  if [ -n "${JAVA_HOME-}" ] && [ -x "$JAVA_HOME/bin/javac" ]; then
    major=$(edgefleet_java_major "$JAVA_HOME")
    if [ "${major:-0}" -ge 21 ]; then return 0; fi
  fi
  best=""
  best_major=0
  # No glob here: ./mvnw runs with `set -f`.
  for name in $(ls /usr/lib/jvm 2>/dev/null); do
    dir="/usr/lib/jvm/$name"
    [ -x "$dir/bin/javac" ] || continue
    [ -L "$dir" ] && continue
    major=$(edgefleet_java_major "$dir")
    if [ "${major:-0}" -gt "$best_major" ]; then best="$dir"; best_major="$major"; fi
  done
  if [ "$best_major" -ge 21 ]; then
    JAVA_HOME="$best"
    export JAVA_HOME
    return 0
  fi
  echo "edgefleet needs a JDK 21 or newer and found none." >&2
  echo "  Checked: JAVA_HOME=${JAVA_HOME-<unset>} and /usr/lib/jvm/*." >&2
  echo "  Install one (for example: apt-get install -y openjdk-21-jdk-headless) or set JAVA_HOME." >&2
  return 1
}
