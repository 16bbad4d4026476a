# Sourced by ./edgefleet (bash). The CLI server (io.edgefleet.launcher.CliServer) is a warm JVM
# that serves CLI verbs: the first call after a build starts it in the background and runs in a
# JVM of its own; later calls go to it over a loopback socket, with a secret from a file only this
# user can read, and take a few milliseconds instead of a JVM start. What only the calling process
# can do (asking on its terminal, following a stream) the server hands back, and the caller runs
# the verb itself. The server stops after 15 idle minutes or when the distribution is rebuilt.
# EDGEFLEET_CLI_SERVER=off runs every call in a JVM of its own.
#
# Needs: CLI_SERVER_DIR (its directory), JAR (the launcher jar: a server file older than it is
# stale), and to start one DIST and JAVA_HOME.

start_cli_server() {
  [ "${EDGEFLEET_CLI_SERVER:-}" != off ] || return 0
  mkdir -p "$CLI_SERVER_DIR" 2>/dev/null && chmod 700 "$CLI_SERVER_DIR" 2>/dev/null || return 0
  local opts=(-XX:+UseSerialGC -Xms16m -Xmx256m -XX:+ExitOnOutOfMemoryError -XX:-UsePerfData)
  [ ! -f "$DIST/cache/cli.aot" ] || [ "$DIST/cache/cli.aot" -ot "$JAR" ] ||
    opts+=(-XX:AOTCache="$DIST/cache/cli.aot" -Xlog:aot=off -Xlog:cds=off)
  # One at a time: the lock is held for the server's life.
  setsid bash -c 'exec 8>"$1/.lock"; flock -n 8 || exit 0; shift; exec "$@"' _ "$CLI_SERVER_DIR" \
    nice -n 5 "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED "${opts[@]}" \
    -cp "$DIST/lib/*" io.edgefleet.launcher.CliServer "$CLI_SERVER_DIR/server" \
    </dev/null >"$CLI_SERVER_DIR/server.log" 2>&1 &
}

# Runs the verb in the CLI server; returns its exit code, or 200 when it was not served (no
# server, a stale one, busy, or a verb it hands back) and nothing was done.
served_call() {
  [ "${EDGEFLEET_CLI_SERVER:-}" != off ] || return 200
  local file="$CLI_SERVER_DIR/server" port secret pid
  if ! { [ -f "$file" ] && [ "$file" -nt "$JAR" ] && read -r port secret pid <"$file"; }; then
    start_cli_server
    return 200
  fi
  # (exec without a command would keep a 2>/dev/null for the rest of the script: braces scope it)
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || { start_cli_server; return 200; }
  local flags vars=() v frame taken=0
  if [ -t 0 ]; then flags=1; else flags=0; fi
  if [ -t 1 ]; then flags+=1; else flags+=0; fi
  for v in $(compgen -e); do
    case "$v" in EDGEFLEET_*|COLUMNS|NO_COLOR|TERM|HOME) vars+=("$v=${!v}") ;; esac
  done
  printf '%s\0' "$secret" "$PWD" "$flags" "${#vars[@]}" "${vars[@]}" "$#" "$@" >&3 2>/dev/null ||
    { exec 3<&-; return 200; }
  while IFS= read -r -d '' frame <&3; do
    case "${frame:0:1}" in
      A) taken=1 ;;
      O) printf '%s' "${frame:1}" ;;
      E) printf '%s' "${frame:1}" >&2 ;;
      X) exec 3<&-; return "${frame:1}" ;;
      F) exec 3<&-; return 200 ;;
    esac
  done
  exec 3<&-
  [ "$taken" = 1 ] || return 200
  echo "error: the CLI server stopped during the call; check its outcome before repeating it" >&2
  return 1
}
