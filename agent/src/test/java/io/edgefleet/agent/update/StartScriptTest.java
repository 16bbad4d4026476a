package io.edgefleet.agent.update;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The start script {@code edgefleet-agent} with a stand-in for {@code java} (a shell script that
 * records its arguments and behaves as told): seeding, the command line, and every way a trial
 * ends. The real agent in the slots is tested in the testkit ({@code AgentSlotsIT}).
 */
class StartScriptTest {
  static final Path SCRIPT = Path.of("src/main/dist/bin/edgefleet-agent").toAbsolutePath();

  @TempDir Path root;
  Path home;
  Path conf;
  Path state;
  Path slots;
  Path java;

  @BeforeEach
  void setUp() throws Exception {
    home = Files.createDirectories(root.resolve("home"));
    conf = Files.createDirectories(root.resolve("conf"));
    state = Files.createDirectories(root.resolve("state"));
    slots = state.resolve("slots");
    release(home.resolve("release"), "1.0.0", "[\"-Dx=a b\", \"-Dy=2\"]");
    // The stand-in JVM: records its arguments; in slot b it does what $STUB_B says.
    java = root.resolve("java");
    Files.writeString(
        java,
        """
        #!/bin/bash
        printf '%s\\n' "$@" > "$STUB_DIR/args-$(printf '%s\\n' "$@" | sed -n 's/^-Dedgefleet.agent.slot=//p')"
        slot=$(printf '%s\\n' "$@" | sed -n 's/^-Dedgefleet.agent.slot=//p')
        f="$STUB_DIR/state/slots/slots.json"
        if [[ "$slot" == b ]]; then
          case "$STUB_B" in
            crash) echo "Error: Could not find or load main class x.Nope" >&2
                   echo "Caused by: java.lang.ClassNotFoundException: x.Nope" >&2
                   echo "Picked up JAVA_TOOL_OPTIONS: -Dnoise=1" >&2
                   echo "[0.100s][warning][aot] noise" >&2; exit 1 ;;
            hang)  trap 'exit 143' TERM; while true; do sleep 0.1; done ;;
            confirm) sed 's/"active": "a"/"active": "b"/; s/"trial": "b"/"trial": null/' "$f" > "$f.x"
                     mv "$f.x" "$f"; exit 7 ;;
            chatty) sed 's/"active": "a"/"active": "b"/; s/"trial": "b"/"trial": null/' "$f" > "$f.x"
                    mv "$f.x" "$f"; sleep 1
                    for i in $(seq 1 4000); do echo "line $i of a long error output" >&2; done
                    touch "$STUB_DIR/written"; trap 'exit 143' TERM; while true; do sleep 0.1; done ;;
          esac
        fi
        exit "${STUB_EXIT:-0}"
        """);
    Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  static void release(Path dir, String version, String javaOptions) throws IOException {
    Files.createDirectories(dir.resolve("lib"));
    Files.writeString(dir.resolve("lib/agent.jar"), "jar " + version);
    Files.writeString(
        dir.resolve("release.json"),
        "{\n  \"format\" : 1,\n  \"version\" : \""
            + version
            + "\",\n  \"arch\" : \"amd64\",\n  \"mainClass\" : \"io.edgefleet.agent.command.AgentMain\",\n"
            + "  \"javaOptions\" : "
            + javaOptions
            + "\n}\n");
  }

  record Run(int exit, String output) {}

  Run run(Map<String, String> env) throws Exception {
    ProcessBuilder pb = new ProcessBuilder("bash", SCRIPT.toString());
    pb.environment().put("EDGEFLEET_HOME", home.toString());
    pb.environment().put("EDGEFLEET_CONF", conf.toString());
    pb.environment().put("EDGEFLEET_STATE", state.toString());
    pb.environment().put("EDGEFLEET_JAVA", java.toString());
    pb.environment().put("EDGEFLEET_TRIAL_POLL", "0.2");
    pb.environment().put("STUB_DIR", root.toString());
    pb.environment().putAll(env);
    pb.redirectErrorStream(true);
    Process p = pb.start();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    return new Run(
        p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
  }

  List<String> args(String slot) throws IOException {
    return Files.readAllLines(root.resolve("args-" + slot));
  }

  /** Slot b holds {@code version} on trial until {@code deadline}. */
  void trial(String version, Instant deadline, long starts) throws IOException {
    release(slots.resolve("b"), version, "[]");
    SlotsFile.State s = SlotsFile.read(slots).withTrial("b", version, deadline);
    SlotsFile.write(
        slots,
        new SlotsFile.State(
            s.active(),
            s.seeded(),
            s.trial(),
            s.trialVersion(),
            s.deadline(),
            starts,
            null,
            null,
            null,
            0));
  }

  @Test
  void theFirstStartSeedsSlotAAndRunsItWithTheFootprintAndReleaseOptions() throws Exception {
    Files.writeString(
        conf.resolve("agent.env"),
        "EDGEFLEET_AGENT_ARGS=\"--runtime none --no-tpm\"\nEDGEFLEET_JAVA_OPTS=\"-Xmx64m\"\n");
    Run r = run(Map.of("STUB_EXIT", "3"));
    assertThat(r.exit()).as(r.output()).isEqualTo(3);
    SlotsFile.State s = SlotsFile.read(slots);
    assertThat(s.active()).isEqualTo("a");
    assertThat(s.seeded()).isEqualTo("1.0.0");
    assertThat(slots.resolve("a/lib/agent.jar")).hasContent("jar 1.0.0");
    assertThat(args("a"))
        .containsSubsequence(
            "-XX:+UseSerialGC",
            "-Xmx32m",
            "-Dx=a b",
            "-Dy=2",
            "-Xmx64m",
            "-Dedgefleet.agent.version=1.0.0",
            "-Dedgefleet.agent.slot=a",
            "-cp",
            slots.resolve("a") + "/lib/*",
            "io.edgefleet.agent.command.AgentMain",
            "--bootstrap",
            conf.resolve("bootstrap.json").toString(),
            "--state",
            state.resolve("agent").toString(),
            "--slots",
            slots.toString(),
            "--runtime",
            "none",
            "--no-tpm");
  }

  @Test
  void aReleaseThatCrashesIsGivenUpWithItsErrorOutput() throws Exception {
    run(Map.of());
    trial("2.0.0", Instant.now().plusSeconds(60), 0);
    Run r = run(Map.of("STUB_B", "crash"));
    assertThat(r.exit()).as(r.output()).isZero();
    SlotsFile.State s = SlotsFile.read(slots);
    assertThat(s.active()).isEqualTo("a");
    assertThat(s.trial()).isNull();
    assertThat(s.outcome()).isEqualTo("rolled-back");
    assertThat(s.outcomeVersion()).isEqualTo("2.0.0");
    assertThat(s.reason())
        .isEqualTo(
            "it exited with status 1 before it proved itself: Error: Could not find or load main"
                + " class x.Nope Caused by: java.lang.ClassNotFoundException: x.Nope");
    // Slot a ran after the trial was given up.
    assertThat(args("a")).contains("-Dedgefleet.agent.version=1.0.0");
  }

  @Test
  void aReleaseThatDoesNotConfirmInTimeIsStoppedAndGivenUp() throws Exception {
    run(Map.of());
    // Long enough for the script to reach the trial on a loaded machine, short enough for a test.
    trial("2.0.0", Instant.now().plusSeconds(6), 0);
    Run r = run(Map.of("STUB_B", "hang"));
    assertThat(r.exit()).as(r.output()).isZero();
    SlotsFile.State s = SlotsFile.read(slots);
    assertThat(s.outcome()).isEqualTo("rolled-back");
    assertThat(s.reason()).startsWith("it did not connect, verify its desired state and finish");
    assertThat(r.output()).contains("did not prove itself by");
  }

  @Test
  void aConfirmedReleaseRunsOnAndItsStatusIsTheScripts() throws Exception {
    run(Map.of());
    trial("2.0.0", Instant.now().plusSeconds(60), 0);
    Run r = run(Map.of("STUB_B", "confirm"));
    assertThat(r.exit()).as(r.output()).isEqualTo(7);
    SlotsFile.State s = SlotsFile.read(slots);
    assertThat(s.active()).isEqualTo("b");
    assertThat(s.trial()).isNull();
    assertThat(args("b")).contains("-Dedgefleet.agent.version=2.0.0", "-Dedgefleet.agent.slot=b");
  }

  @Test
  void theTrialLogKeepsOnlyItsFirstPartHoweverLongTheConfirmedAgentWrites() throws Exception {
    run(Map.of());
    trial("2.0.0", Instant.now().plusSeconds(60), 0);
    ProcessBuilder pb = new ProcessBuilder("bash", SCRIPT.toString());
    pb.environment().put("EDGEFLEET_HOME", home.toString());
    pb.environment().put("EDGEFLEET_CONF", conf.toString());
    pb.environment().put("EDGEFLEET_STATE", state.toString());
    pb.environment().put("EDGEFLEET_JAVA", java.toString());
    pb.environment().put("EDGEFLEET_TRIAL_POLL", "0.2");
    pb.environment().put("EDGEFLEET_TRIAL_LOG_MAX", "4096");
    pb.environment().put("STUB_DIR", root.toString());
    pb.environment().put("STUB_B", "chatty");
    pb.redirectErrorStream(true);
    pb.redirectOutput(root.resolve("script.out").toFile());
    Process p = pb.start();
    try {
      await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(root.resolve("written")));
      // All of it reached the script's own error output (the journal)...
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> Files.readString(root.resolve("script.out")).contains("line 4000 of"));
      // ...but the trial log, which lives on while the confirmed agent runs, stayed bounded.
      assertThat(Files.size(slots.resolve("trial.log"))).isEqualTo(4096);
      assertThat(Files.readString(slots.resolve("trial.log"))).startsWith("line 1 of");
    } finally {
      p.destroy();
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    }
  }

  @Test
  void aTrialStartedTooOftenOrPastItsDeadlineIsGivenUpWithoutStartingIt() throws Exception {
    run(Map.of());
    trial("2.0.0", Instant.now().plusSeconds(60), 3);
    run(Map.of("STUB_B", "confirm"));
    assertThat(SlotsFile.read(slots).reason()).startsWith("it was started 3 times without");
    assertThat(root.resolve("args-b")).doesNotExist();

    trial("2.0.0", Instant.now().minusSeconds(1), 0);
    run(Map.of("STUB_B", "confirm"));
    assertThat(SlotsFile.read(slots).reason()).startsWith("its trial window ended");
    assertThat(root.resolve("args-b")).doesNotExist();
  }

  @Test
  void aSlotWhoseReleaseIsNotTheTrialVersionIsGivenUp() throws Exception {
    run(Map.of());
    trial("2.0.0", Instant.now().plusSeconds(60), 0);
    release(slots.resolve("b"), "2.0.1", "[]");
    run(Map.of("STUB_B", "confirm"));
    assertThat(SlotsFile.read(slots).reason()).isEqualTo("slot b holds release 2.0.1, not 2.0.0");
  }

  @Test
  void aNewerPackageReleaseReplacesTheInactiveSlot() throws Exception {
    run(Map.of());
    release(home.resolve("release"), "1.1.0", "[]");
    run(Map.of());
    SlotsFile.State s = SlotsFile.read(slots);
    assertThat(s.active()).isEqualTo("b");
    assertThat(s.seeded()).isEqualTo("1.1.0");
    assertThat(args("b")).contains("-Dedgefleet.agent.version=1.1.0");
  }

  @Test
  void withoutAReleaseToSeedTheScriptSaysWhatIsMissing() throws Exception {
    Files.delete(home.resolve("release/release.json"));
    Run r = run(Map.of());
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.output()).contains("cannot seed the slots").contains("has no release.json");
  }

  /**
   * A stand-in JDK 25 ({@code release} says so): each start appends its class-cache options to
   * {@code runs}; a recording start writes the cache unless {@code $STUB_NO_CACHE} and ends with 0,
   * as the agent does once proven; any other start ends with {@code $STUB_EXIT}.
   */
  Path jdk25() throws IOException {
    Path jdk = Files.createDirectories(root.resolve("jdk/bin")).getParent();
    Files.writeString(jdk.resolve("release"), "JAVA_VERSION=\"25.0.1\"\n");
    Path bin = jdk.resolve("bin/java");
    Files.writeString(
        bin,
        """
        #!/bin/bash
        out=$(printf '%s\\n' "$@" | grep -e '^-XX:AOTCache' -e '^-Dedgefleet.agent.exitWhenProven' | tr '\\n' ' ')
        echo "$out" >> "$STUB_DIR/runs"
        cache=$(printf '%s\\n' "$@" | sed -n 's/^-XX:AOTCacheOutput=//p')
        if [[ -n "$cache" ]]; then
          [[ -n "${STUB_NO_CACHE:-}" ]] || echo cache > "$cache"
          exit 0
        fi
        exit "${STUB_EXIT:-0}"
        """);
    Files.setPosixFilePermissions(bin, PosixFilePermissions.fromString("rwxr-xr-x"));
    return bin;
  }

  @Test
  void theClassCacheIsRecordedByARunThatEndsOnceProvenAndThenUsed() throws Exception {
    Run r = run(Map.of("EDGEFLEET_JAVA", jdk25().toString(), "STUB_EXIT", "3"));
    assertThat(r.exit()).as(r.output()).isEqualTo(3);
    List<String> runs = Files.readAllLines(root.resolve("runs"));
    Path cache = slots.resolve("a/agent.aot");
    assertThat(runs).hasSize(2);
    assertThat(runs.get(0))
        .contains("-XX:AOTCacheOutput=" + cache, "-Dedgefleet.agent.exitWhenProven=true");
    assertThat(runs.get(1)).contains("-XX:AOTCache=" + cache).doesNotContain("exitWhenProven");
    assertThat(r.output()).contains("class cache of slot a recorded");

    // The next start uses it straight away.
    r = run(Map.of("EDGEFLEET_JAVA", root.resolve("jdk/bin/java").toString(), "STUB_EXIT", "4"));
    assertThat(r.exit()).isEqualTo(4);
    assertThat(Files.readAllLines(root.resolve("runs")))
        .hasSize(3)
        .last()
        .asString()
        .contains("-XX:AOTCache=" + cache);
  }

  @Test
  void aRuntimeThatWritesNoCacheIsRecordedThreeTimesAtMostThenRunWithout() throws Exception {
    Run r =
        run(Map.of("EDGEFLEET_JAVA", jdk25().toString(), "STUB_NO_CACHE", "1", "STUB_EXIT", "5"));
    assertThat(r.exit()).as(r.output()).isEqualTo(5);
    List<String> runs = Files.readAllLines(root.resolve("runs"));
    assertThat(runs).hasSize(4);
    assertThat(runs.subList(0, 3)).allSatisfy(a -> assertThat(a).contains("AOTCacheOutput"));
    assertThat(runs.get(3)).doesNotContain("AOTCache");
  }

  @Test
  void theScriptPassesShellcheck() throws Exception {
    Assumptions.assumeTrue(
        Files.isExecutable(Path.of("/usr/bin/shellcheck")), "shellcheck is not installed");
    Process p =
        new ProcessBuilder("/usr/bin/shellcheck", SCRIPT.toString())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor()).as(out).isZero();
  }
}
