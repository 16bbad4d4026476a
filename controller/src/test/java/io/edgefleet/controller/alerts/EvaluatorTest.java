package io.edgefleet.controller.alerts;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.devices.Presence;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Each rule type against hand-made facts: which subjects it finds, with what labels and since. */
class EvaluatorTest {
  static final Instant NOW = Instant.parse("2026-11-23T12:00:00Z");

  static Rule rule(RuleType type, String selector, String forText) {
    return new Rule(
        "rule-1", "r", type, selector, null, null, forText, null, null, "warning", List.of(), null,
        "test", NOW);
  }

  static Facts.Device device(String id, Map<String, String> tags, DeviceStatus s, Instant since) {
    return new Facts.Device(id, id + "-name", tags, s, since, NOW.plus(Duration.ofDays(300)));
  }

  @Test
  void deviceOfflineFindsOfflineDevicesOfTheSelectorSinceTheyWentSilent() {
    Instant lost = NOW.minusSeconds(90);
    Facts facts =
        new Facts(
            List.of(
                device("d1", Map.of("site", "a"), DeviceStatus.OFFLINE, lost),
                device("d2", Map.of("site", "a"), DeviceStatus.ONLINE, null),
                device("d3", Map.of("site", "b"), DeviceStatus.OFFLINE, lost),
                device("d4", Map.of("site", "a"), DeviceStatus.NEVER_SEEN, null)),
            List.of(),
            List.of(),
            List.of());
    List<Evaluator.Finding> found =
        Evaluator.evaluate(rule(RuleType.DEVICE_OFFLINE, "site=a", "1m"), facts, NOW);
    assertThat(found).hasSize(1);
    Evaluator.Finding f = found.getFirst();
    assertThat(f.subject()).isEqualTo("device/d1");
    assertThat(f.since()).contains(lost);
    assertThat(f.labels()).containsEntry("device", "d1").containsEntry("device_name", "d1-name");
    assertThat(f.summary()).contains("d1-name (d1) is offline");
  }

  @Test
  void appFailedFindsFailedAppsOfSelectedDevicesOptionallyOfOneApp() {
    Facts facts =
        new Facts(
            List.of(
                device("d1", Map.of("site", "a"), DeviceStatus.ONLINE, null),
                device("d2", Map.of("site", "b"), DeviceStatus.ONLINE, null)),
            List.of(
                new Facts.FailedApp("d1", "web", "ImagePullBackOff"),
                new Facts.FailedApp("d1", "pos", "CrashLoopBackOff"),
                new Facts.FailedApp("d2", "web", "ImagePullBackOff")),
            List.of(),
            List.of());
    Rule all = rule(RuleType.APP_FAILED, "site=a", null);
    assertThat(Evaluator.evaluate(all, facts, NOW))
        .extracting(Evaluator.Finding::subject)
        .containsExactly("device/d1/app/web", "device/d1/app/pos");
    Rule web =
        new Rule(
            "rule-2",
            "w",
            RuleType.APP_FAILED,
            "",
            "web",
            null,
            null,
            null,
            null,
            "critical",
            List.of(),
            null,
            "t",
            NOW);
    List<Evaluator.Finding> found = Evaluator.evaluate(web, facts, NOW);
    assertThat(found)
        .extracting(Evaluator.Finding::subject)
        .containsExactly("device/d1/app/web", "device/d2/app/web");
    assertThat(found.getFirst().labels()).containsEntry("app", "web");
    assertThat(found.getFirst().description()).isEqualTo("ImagePullBackOff");
    // The engine counts "for" from when it first saw the failure.
    assertThat(found.getFirst().since()).isEmpty();
  }

  @Test
  void diskUsageFiresAtOrAboveThePercentOptionallyForOneMount() {
    Facts facts =
        new Facts(
            List.of(device("d1", Map.of(), DeviceStatus.ONLINE, null)),
            List.of(),
            List.of(
                new Facts.Disk("d1", "/", 90.0, NOW),
                new Facts.Disk("d1", "/data", 89.99, NOW),
                new Facts.Disk("d1", "/boot", 97.5, NOW)),
            List.of());
    Rule ninety =
        new Rule(
            "rule-3",
            "disk",
            RuleType.DISK_USAGE,
            "",
            null,
            null,
            null,
            null,
            90.0,
            "warning",
            List.of(),
            null,
            "t",
            NOW);
    List<Evaluator.Finding> found = Evaluator.evaluate(ninety, facts, NOW);
    assertThat(found)
        .extracting(Evaluator.Finding::subject)
        .containsExactly("device/d1/disk//", "device/d1/disk//boot");
    assertThat(found.get(1).summary()).contains("97.5% full");
    assertThat(found.get(0).labels()).containsEntry("mount", "/");
    Rule root =
        new Rule(
            "rule-4",
            "root",
            RuleType.DISK_USAGE,
            "",
            null,
            "/data",
            null,
            null,
            80.0,
            "warning",
            List.of(),
            null,
            "t",
            NOW);
    assertThat(Evaluator.evaluate(root, facts, NOW))
        .extracting(Evaluator.Finding::subject)
        .containsExactly("device/d1/disk//data");
  }

  @Test
  void deviceQuarantinedFindsQuarantinedDevicesTheSelectorPicksSinceTheirQuarantine() {
    Instant since = NOW.minusSeconds(600);
    Facts facts =
        new Facts(
            List.of(
                new Facts.Device(
                    "d1",
                    "one",
                    Map.of("site", "a"),
                    DeviceStatus.ONLINE,
                    null,
                    null,
                    new Facts.Quarantine("PCR 4 differ from the reference", since)),
                new Facts.Device("d2", "two", Map.of("site", "a"), DeviceStatus.ONLINE, null, null),
                new Facts.Device(
                    "d3",
                    "three",
                    Map.of("site", "b"),
                    DeviceStatus.ONLINE,
                    null,
                    null,
                    new Facts.Quarantine("PCR 7 differ", since))),
            List.of(),
            List.of(),
            List.of());
    List<Evaluator.Finding> found =
        Evaluator.evaluate(rule(RuleType.DEVICE_QUARANTINED, "site=a", null), facts, NOW);
    assertThat(found).extracting(Evaluator.Finding::subject).containsExactly("device/d1/trust");
    assertThat(found.get(0).since()).contains(since);
    assertThat(found.get(0).summary()).isEqualTo("device one (d1) is quarantined");
    assertThat(found.get(0).description()).startsWith("PCR 4 differ from the reference;");
  }

  @Test
  void certificateExpiringFindsCertificatesInsideTheWindowSinceTheWindowOpened() {
    Instant soon = NOW.plus(Duration.ofDays(10));
    Facts facts =
        new Facts(
            List.of(
                new Facts.Device("d1", "one", Map.of(), DeviceStatus.ONLINE, null, soon),
                new Facts.Device(
                    "d2",
                    "two",
                    Map.of(),
                    DeviceStatus.ONLINE,
                    null,
                    NOW.plus(Duration.ofDays(31))),
                new Facts.Device(
                    "d3", "three", Map.of(), DeviceStatus.OFFLINE, NOW, NOW.minusSeconds(3600)),
                new Facts.Device("d4", "four", Map.of(), DeviceStatus.ONLINE, null, null)),
            List.of(),
            List.of(),
            List.of());
    Rule thirty =
        new Rule(
            "rule-5",
            "cert",
            RuleType.CERTIFICATE_EXPIRING,
            "",
            null,
            null,
            null,
            "30d",
            null,
            "warning",
            List.of(),
            null,
            "t",
            NOW);
    List<Evaluator.Finding> found = Evaluator.evaluate(thirty, facts, NOW);
    assertThat(found)
        .extracting(Evaluator.Finding::subject)
        .containsExactly("device/d1/certificate", "device/d3/certificate");
    assertThat(found.get(0).since()).contains(soon.minus(Duration.ofDays(30)));
    assertThat(found.get(0).summary()).contains("expires in 10d");
    assertThat(found.get(1).summary()).contains("expired 1h ago");
  }

  @Test
  void rolloutPausedFindsPausedRolloutsOptionallyOfOneApp() {
    Instant paused = NOW.minusSeconds(30);
    Facts facts =
        new Facts(
            List.of(),
            List.of(),
            List.of(),
            List.of(
                new Facts.PausedRollout("ro-1", "web", "batch 2 failed: 3/10 FAILED", paused),
                new Facts.PausedRollout("ro-2", "pos", "paused by admin", paused)));
    List<Evaluator.Finding> all =
        Evaluator.evaluate(rule(RuleType.ROLLOUT_PAUSED, "", null), facts, NOW);
    assertThat(all)
        .extracting(Evaluator.Finding::subject)
        .containsExactly("rollout/ro-1", "rollout/ro-2");
    assertThat(all.getFirst().labels())
        .containsEntry("rollout", "ro-1")
        .containsEntry("app", "web");
    assertThat(all.getFirst().since()).contains(paused);
    assertThat(all.getFirst().deviceId()).isNull();
    Rule pos =
        new Rule(
            "rule-6",
            "pos",
            RuleType.ROLLOUT_PAUSED,
            "",
            "pos",
            null,
            null,
            null,
            null,
            "info",
            List.of(),
            null,
            "t",
            NOW);
    assertThat(Evaluator.evaluate(pos, facts, NOW))
        .extracting(Evaluator.Finding::description)
        .containsExactly("paused by admin");
  }

  @Test
  void offlineSinceIsTheCloseOfTheConnectionOrElseTheLastHeartbeat() {
    Instant seen = NOW.minusSeconds(100);
    Instant closed = NOW.minusSeconds(95);
    assertThat(
            FleetFacts.offlineSince(
                new Presence.Snapshot(Optional.of(seen), false, Optional.of(closed))))
        .isEqualTo(closed);
    // Silent without a close (a cut link, or a restarted controller): the last heartbeat.
    assertThat(
            FleetFacts.offlineSince(
                new Presence.Snapshot(Optional.of(seen), true, Optional.empty())))
        .isEqualTo(seen);
    // A close from an earlier connection does not count once heartbeats came after it.
    assertThat(
            FleetFacts.offlineSince(
                new Presence.Snapshot(
                    Optional.of(seen), true, Optional.of(seen.minusSeconds(600)))))
        .isEqualTo(seen);
  }

  @Test
  void clusterDegradedFindsDegradedClustersWhoseLabelsMatchWithTheirReasons() {
    Facts facts =
        new Facts(
            List.of(),
            List.of(),
            List.of(),
            List.of(),
            List.of(
                new Facts.DegradedCluster(
                    "sjc-1",
                    Map.of("region", "us"),
                    List.of("1 of 3 servers is running: etcd quorum is at risk")),
                new Facts.DegradedCluster("fra-1", Map.of("region", "eu"), List.of())));
    List<Evaluator.Finding> found =
        Evaluator.evaluate(rule(RuleType.CLUSTER_DEGRADED, "region=us", null), facts, NOW);
    assertThat(found).hasSize(1);
    Evaluator.Finding f = found.getFirst();
    assertThat(f.subject()).isEqualTo("cluster/sjc-1");
    assertThat(f.deviceId()).isNull();
    assertThat(f.labels()).containsExactly(Map.entry("cluster", "sjc-1"));
    assertThat(f.summary()).isEqualTo("cluster sjc-1 is degraded");
    assertThat(f.description()).contains("etcd quorum is at risk").contains("clusters get sjc-1");
    assertThat(Evaluator.evaluate(rule(RuleType.CLUSTER_DEGRADED, "", null), facts, NOW))
        .extracting(Evaluator.Finding::subject)
        .containsExactly("cluster/sjc-1", "cluster/fra-1");
  }
}
