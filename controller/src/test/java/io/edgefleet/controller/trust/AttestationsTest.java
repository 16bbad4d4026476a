package io.edgefleet.controller.trust;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.DeviceTrustView;
import io.edgefleet.controller.gateway.Connections;
import io.edgefleet.controller.health.TestClock;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.TpmQuote;
import io.edgefleet.protocol.tpm.SoftEkCa;
import io.edgefleet.protocol.tpm.SoftTpm;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The attestation schedule against a real SQLite database with a software TPM: single-use
 * challenges, unanswered challenges, and a storm of answers that the bounded queue sheds instead of
 * piling up.
 */
class AttestationsTest {
  private static final Instant T0 = Instant.parse("2026-06-01T00:00:00Z");

  @TempDir Path dir;
  Database db;
  Jdbi jdbi;
  TestClock clock;
  SoftTpm tpm;
  DeviceTrust trust;
  Attestations attestations;
  final List<String> quarantineChanged = new CopyOnWriteArrayList<>();

  @BeforeEach
  void open() {
    db = Database.open(Database.sqliteUrl(dir), null, null);
    jdbi = db.jdbi();
    clock = new TestClock(T0);
    tpm = SoftTpm.create(SoftEkCa.create("Vendor"));
  }

  void build(TrustOptions options) {
    TrustStore store = new TrustStore();
    trust =
        new DeviceTrust(
            jdbi,
            clock,
            store,
            new DeviceStore(),
            new References(jdbi, store),
            new Connections(),
            options.missedLimit(),
            quarantineChanged::add);
    trust.load();
    attestations = new Attestations(trust, new Connections(), clock, options);
  }

  @AfterEach
  void close() {
    if (attestations != null) {
      attestations.close();
    }
    db.close();
  }

  /** Devices enrolled with {@link #tpm}'s AK and its current PCRs as their reference. */
  void enroll(int n) {
    Map<Integer, String> pcrs = new TreeMap<>();
    for (int i : TrustOptions.DEFAULT_PCRS) {
      pcrs.put(i, HexFormat.of().formatHex(tpm.pcr(i)));
    }
    String ak = Base64.getEncoder().encodeToString(tpm.akPublic().marshal());
    TrustStore store = new TrustStore();
    jdbi.useTransaction(
        h -> {
          for (int i = 0; i < n; i++) {
            store.insert(
                h,
                new TrustRecord(
                    "dev-" + i,
                    "ek-" + i,
                    "CN=Vendor",
                    ak,
                    TrustOptions.DEFAULT_PCRS,
                    pcrs,
                    null,
                    TrustRecord.ENROLLMENT,
                    T0,
                    null,
                    null,
                    DeviceTrustView.TRUSTED,
                    null,
                    T0,
                    T0),
                T0.toEpochMilli());
          }
        });
  }

  AgentMessage.AttestationAnswer answer(String deviceId) {
    Attestations.Challenge c = attestations.challengeOf(deviceId).orElseThrow();
    TpmQuote q = tpm.quote(c.nonce(), c.pcrs());
    return new AgentMessage.AttestationAnswer(c.id(), q, null);
  }

  @Test
  void aChallengeIsAnsweredOnceAndAReplayChangesNothing() {
    enroll(1);
    build(TrustOptions.defaults());
    attestations.challenge("dev-0");
    AgentMessage.AttestationAnswer a = answer("dev-0");
    clock.advance(Duration.ofSeconds(5));
    attestations.answer("dev-0", a);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> T0.plusSeconds(5).equals(trust.view("dev-0").lastAttested()));
    assertThat(attestations.outstanding("dev-0")).isFalse();

    attestations.answer("dev-0", a);
    assertThat(attestations.refused()).isEqualTo(1);
    assertThat(trust.view("dev-0").state()).isEqualTo(DeviceTrustView.TRUSTED);
    assertThat(kinds("dev-0")).containsExactly("ATTESTATION_REFUSED");
  }

  @Test
  void threeUnansweredChallengesInARowQuarantineTheDevice() {
    enroll(1);
    build(TrustOptions.defaults());
    for (int i = 0; i < 3; i++) {
      attestations.challenge("dev-0");
      clock.advance(Duration.ofMinutes(3));
      attestations.tick();
      assertThat(attestations.outstanding("dev-0")).isFalse();
    }
    DeviceTrustView v = trust.view("dev-0");
    assertThat(v.state()).isEqualTo(DeviceTrustView.QUARANTINED);
    assertThat(v.reason()).contains("3 attestation challenges in a row unanswered");
    assertThat(trust.quarantined("dev-0")).isTrue();
    assertThat(quarantineChanged).containsExactly("dev-0");
    assertThat(kinds("dev-0"))
        .containsExactlyInAnyOrder(
            "ATTESTATION_MISSED", "ATTESTATION_MISSED", "ATTESTATION_MISSED", "QUARANTINED");

    // A good quote afterwards ends the quarantine, and that is announced too.
    attestations.challenge("dev-0");
    attestations.answer("dev-0", answer("dev-0"));
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> trust.view("dev-0").state().equals(DeviceTrustView.TRUSTED));
    assertThat(quarantineChanged).containsExactly("dev-0", "dev-0");
  }

  @Test
  void aStormOfTenThousandAnswersIsShedNotPiledUp() {
    int n = 10_000;
    enroll(n);
    build(TrustOptions.defaults().withQueue(2, 1024));
    List<AgentMessage.AttestationAnswer> answers = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      attestations.challenge("dev-" + i);
      answers.add(answer("dev-" + i));
    }
    int maxQueued = 0;
    long start = System.nanoTime();
    for (int i = 0; i < n; i++) {
      attestations.answer("dev-" + i, answers.get(i));
      maxQueued = Math.max(maxQueued, attestations.queued());
    }
    long socketMillis = (System.nanoTime() - start) / 1_000_000;
    await()
        .atMost(Duration.ofMinutes(2))
        .until(() -> attestations.verified() + attestations.shed() == n);
    long totalMillis = (System.nanoTime() - start) / 1_000_000;
    System.out.printf(
        "storm of %d answers: %d ms on the answering thread, %d verified, %d shed, queue at most"
            + " %d, %d ms until all were handled%n",
        n, socketMillis, attestations.verified(), attestations.shed(), maxQueued, totalMillis);
    assertThat(maxQueued).isLessThanOrEqualTo(1024);
    assertThat(attestations.shed()).isPositive();
    assertThat(attestations.verified()).isGreaterThanOrEqualTo(1024);
    // Handing an answer over costs the socket thread next to nothing.
    assertThat(socketMillis).isLessThan(5_000);
    assertThat(attestations.outstandingCount()).isZero();
    assertThat(trust.quarantined("dev-0")).isFalse();
  }

  List<String> kinds(String deviceId) {
    return jdbi.withHandle(
        h ->
            h.createQuery("SELECT kind FROM fleet_events WHERE device_id = :d ORDER BY at")
                .bind("d", deviceId)
                .mapTo(String.class)
                .list());
  }
}
