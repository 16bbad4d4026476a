package io.edgefleet.controller.health;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.Telemetry;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Each refined status with its reason and since when, from explicit inputs. */
class HealthRulesTest {
  static final Instant NOW = Instant.parse("2026-11-23T12:00:00Z");
  static final Instant LONG_AGO = NOW.minus(Duration.ofDays(2));
  static final HealthPolicy POLICY = HealthPolicy.defaults();
  static final DeviceFacts FACTS =
      new DeviceFacts(
          "h",
          null,
          List.of(),
          "amd64",
          4,
          8_000_000_000L,
          64_000_000_000L,
          "Linux",
          "6",
          "t",
          false,
          false);

  static Signals.App app(String name, String running, String phase, String reason) {
    return new Signals.App(
        name, "r2", running, phase, reason, null, LONG_AGO, NOW.minusSeconds(30));
  }

  static Optional<HealthRules.Assessment> assess(Signals s) {
    return HealthRules.assess(s, Optional.empty(), FACTS, LONG_AGO, NOW, POLICY);
  }

  @Test
  void aDeviceWhoseAppsAreReadyAndResourcesFineStaysOnline() {
    Signals s = new Signals(List.of(app("web", "r2", "READY", "")), null);
    assertThat(assess(s)).isEmpty();
    assertThat(assess(Signals.NONE)).isEmpty();
    assertThat(
            HealthRules.assess(
                s,
                Optional.of(metrics(NOW.minusSeconds(60), Map.of("disk./.used.percent", 89.9))),
                FACTS,
                LONG_AGO,
                NOW,
                POLICY))
        .isEmpty();
  }

  @Test
  void aFailedAppIsDegradedWithTheAppAndTheDevicesReasonSinceItWasReported() {
    Signals s =
        new Signals(
            List.of(
                app("web", "r2", "FAILED", "web: 1/1 pods in CrashLoopBackOff"),
                app("db", "r2", "READY", "")),
            null);
    HealthRules.Assessment a = assess(s).orElseThrow();
    assertThat(a.status()).isEqualTo(DeviceStatus.DEGRADED);
    assertThat(a.reason()).isEqualTo("app web FAILED: web: 1/1 pods in CrashLoopBackOff");
    assertThat(a.since()).isEqualTo(NOW.minusSeconds(30));
  }

  @Test
  void anAppNotReadyLongAfterItWasDesiredIsDegradedButNotBeforeItHadItsChanceWhileReachable() {
    Signals.App late =
        new Signals.App(
            "web", "r2", "r1", "READY", "", null, NOW.minus(Duration.ofMinutes(25)), NOW);
    Signals s = new Signals(List.of(late), null);
    HealthRules.Assessment a = assess(s).orElseThrow();
    assertThat(a.status()).isEqualTo(DeviceStatus.DEGRADED);
    assertThat(a.reason()).isEqualTo("app web still runs r1 25m after r2 was desired");
    assertThat(a.since()).isEqualTo(NOW.minus(Duration.ofMinutes(15)));

    // Back for only five minutes after a day away: it is updating, not late.
    Instant back = NOW.minus(Duration.ofMinutes(5));
    assertThat(HealthRules.assess(s, Optional.empty(), FACTS, back, NOW, POLICY)).isEmpty();
    assertThat(HealthRules.updating(s, back, NOW, POLICY)).isTrue();
    assertThat(HealthRules.updating(s, LONG_AGO, NOW, POLICY)).isFalse();

    Signals.App progressing =
        new Signals.App(
            "web",
            "r2",
            "r2",
            "PROGRESSING",
            "0/1 ready",
            null,
            NOW.minus(Duration.ofHours(1)),
            NOW);
    assertThat(assess(new Signals(List.of(progressing), null)).orElseThrow().reason())
        .isEqualTo("app web is PROGRESSING, not READY 1h after it was desired: 0/1 ready");
  }

  @Test
  void aFullDiskOrMemoryIsDegradedWhileStaleMetricsSayNothing() {
    Signals s = new Signals(List.of(app("web", "r2", "READY", "")), null);
    Telemetry.Metrics full =
        metrics(
            NOW.minusSeconds(60),
            Map.of(
                "disk./.used.percent", 93.4,
                "disk./data.used.percent", 40.0,
                "mem.used.bytes", 7_700_000_000.0));
    HealthRules.Assessment a =
        HealthRules.assess(s, Optional.of(full), FACTS, LONG_AGO, NOW, POLICY).orElseThrow();
    assertThat(a.status()).isEqualTo(DeviceStatus.DEGRADED);
    assertThat(a.reason()).isEqualTo("disk / 93% full; memory 96% used");
    assertThat(a.since()).isEqualTo(NOW.minusSeconds(60));

    Telemetry.Metrics stale =
        metrics(NOW.minus(Duration.ofHours(2)), Map.of("disk./.used.percent", 99.0));
    assertThat(HealthRules.assess(s, Optional.of(stale), FACTS, LONG_AGO, NOW, POLICY)).isEmpty();
  }

  @Test
  void manyProblemsAreNamedUpToThreeAndTheRestCounted() {
    Signals s =
        new Signals(
            List.of(
                app("a", "r2", "FAILED", "x"),
                app("b", "r2", "FAILED", "y"),
                app("c", "r2", "FAILED", "z"),
                app("d", "r2", "FAILED", "w"),
                app("e", "r2", "FAILED", "v")),
            null);
    assertThat(assess(s).orElseThrow().reason())
        .isEqualTo("app a FAILED: x; app b FAILED: y; app c FAILED: z; and 2 more problems");
  }

  @Test
  void aRefusedDesiredStateIsErrorWithWhatToDo() {
    Instant refused = NOW.minus(Duration.ofMinutes(3));
    Signals s =
        new Signals(
            List.of(app("web", "r2", "READY", "")),
            new Signals.Refusal(
                "desired-state-bad-signature",
                "the desired state signature does not verify",
                refused));
    HealthRules.Assessment a = assess(s).orElseThrow();
    assertThat(a.status()).isEqualTo(DeviceStatus.ERROR);
    assertThat(a.reason())
        .startsWith(
            "refused its desired state 3m ago (desired-state-bad-signature): the desired state"
                + " signature does not verify; the device does not trust this controller's signing"
                + " key")
        .endsWith("it keeps running the last state it accepted");
    assertThat(a.since()).isEqualTo(refused);
  }

  @Test
  void aDocumentSignedWithAKeyTheDeviceDoesNotTrustSaysHowThatComes() {
    Signals s =
        new Signals(
            List.of(app("web", "r2", "READY", "")),
            new Signals.Refusal(
                "desired-state-unknown-key",
                "refused a desired state signed with key 3eb220ccc922ce25",
                NOW.minus(Duration.ofMinutes(1))));
    assertThat(assess(s).orElseThrow().reason())
        .contains("retired with --force")
        .contains("edgefleet signing-key list");
  }

  @Test
  void everyAppFailingForWantOfARuntimeIsErrorButOneCrashingAppIsNot() {
    String why = "no workload runtime on this node: no kubeconfig found";
    Signals none =
        new Signals(List.of(app("web", "r2", "FAILED", why), app("db", "r2", "FAILED", why)), null);
    HealthRules.Assessment a = assess(none).orElseThrow();
    assertThat(a.status()).isEqualTo(DeviceStatus.ERROR);
    assertThat(a.reason())
        .isEqualTo(
            "cannot run any of its 2 apps: "
                + why
                + "; install a workload runtime (K3s) on the node or point the agent at one with"
                + " --kubeconfig");

    Signals mixed =
        new Signals(
            List.of(app("web", "r2", "FAILED", why), app("db", "r2", "FAILED", "db: crashing")),
            null);
    assertThat(assess(mixed).orElseThrow().status()).isEqualTo(DeviceStatus.DEGRADED);
  }

  @Test
  void aRenderErrorForEveryAppIsErrorForSomeAppsDegraded() {
    Signals.App broken =
        new Signals.App("web", "r2", null, null, null, "tag 'ns' is not set", LONG_AGO, null);
    HealthRules.Assessment all = assess(new Signals(List.of(broken), null)).orElseThrow();
    assertThat(all.status()).isEqualTo(DeviceStatus.ERROR);
    assertThat(all.reason())
        .isEqualTo(
            "its only app web cannot be rendered for it: tag 'ns' is not set; fix the app's"
                + " values or this device's tags");

    Signals some = new Signals(List.of(broken, app("db", "r2", "READY", "")), null);
    HealthRules.Assessment one = assess(some).orElseThrow();
    assertThat(one.status()).isEqualTo(DeviceStatus.DEGRADED);
    assertThat(one.reason())
        .isEqualTo("app web cannot be rendered for this device: tag 'ns' is not set");
  }

  static Telemetry.Metrics metrics(Instant at, Map<String, Double> last) {
    Map<String, Telemetry.Stat> stats = new java.util.TreeMap<>();
    last.forEach((k, v) -> stats.put(k, new Telemetry.Stat(v, v, v, v, 1)));
    return new Telemetry.Metrics(1, at.minusSeconds(60), at, stats);
  }
}
