package io.edgefleet.controller.enrollment;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.devices.DeviceService;
import io.edgefleet.controller.devices.DeviceStatuses;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.Presence;
import io.edgefleet.controller.health.TestClock;
import io.edgefleet.controller.onboarding.OnboardingTokens;
import io.edgefleet.controller.onboarding.Preregistrations;
import io.edgefleet.controller.pki.ControllerPki;
import io.edgefleet.controller.store.Database;
import io.edgefleet.controller.store.TestPostgres;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.EnrollmentRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two controller replicas on one real PostgreSQL enroll devices at the same time, all from hosts
 * named alike: every enrollment succeeds with a name of its own, although both replicas pick free
 * names concurrently (one that loses the race on the unique name checks again).
 */
class EnrollmentReplicasPostgresIT {
  static final Instant NOW = Instant.parse("2026-12-01T10:00:00Z");
  private static TestPostgres postgres;

  @TempDir Path dir;

  @BeforeAll
  static void startPostgres() {
    postgres = TestPostgres.start();
  }

  @AfterAll
  static void stopPostgres() {
    postgres.close();
  }

  record Replica(Database db, EnrollmentService enrollment) {}

  Replica replica(String url, Path pkiDir) {
    Database db = Database.open(url, null, null);
    TestClock clock = new TestClock(NOW);
    AuditLog audit = new AuditLog(db.jdbi(), clock);
    ControllerPki pki = ControllerPki.open(pkiDir, List.of("localhost"), clock);
    DeviceStore store = new DeviceStore();
    Presence presence = new Presence(db.jdbi(), clock);
    DeviceService devices =
        new DeviceService(
            db.jdbi(),
            clock,
            store,
            presence,
            pki,
            audit,
            new DeviceStatuses(clock, presence, Duration.ofSeconds(90)),
            (id, reason) -> {},
            (d, status, now) -> status,
            id -> {});
    EnrollmentService enrollment =
        new EnrollmentService(
            db.jdbi(),
            clock,
            store,
            devices,
            new OnboardingTokens(db.jdbi(), clock, audit),
            new Preregistrations(db.jdbi(), clock, audit),
            pki,
            audit,
            () -> "https://controller/approve",
            Duration.ofSeconds(5),
            100_000,
            id -> null);
    return new Replica(db, enrollment);
  }

  @Test
  void concurrentEnrollmentsOnTwoReplicasGetDistinctNamesAndNoneFails() throws Exception {
    String url = postgres.newDatabaseUrl("enroll");
    Path pki = dir.resolve("pki");
    Replica a = replica(url, pki);
    Replica b = replica(url, pki);
    // A token per device, as a fleet often has: no shared token row serialises the enrollments.
    int each = 25;
    List<String> tokens = new ArrayList<>();
    {
      TestClock clock = new TestClock(NOW);
      OnboardingTokens issuer =
          new OnboardingTokens(a.db().jdbi(), clock, new AuditLog(a.db().jdbi(), clock));
      for (int i = 0; i < 2 * each; i++) {
        tokens.add(
            issuer
                .create(
                    new OnboardingTokens.CreateRequest("t" + i, Map.of(), 1, null, false, 1000),
                    "op")
                .token());
      }
    }
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<String>> ids = new ArrayList<>();
      for (int i = 0; i < each; i++) {
        for (int k = 0; k < 2; k++) {
          Replica r = k == 0 ? a : b;
          String token = tokens.get(2 * i + k);
          Callable<String> enroll =
              () ->
                  r.enrollment()
                      .enroll(
                          new EnrollmentRequest(token, null, DeviceNamingTest.csr(), facts(), null),
                          "10.0.0.1")
                      .deviceId();
          ids.add(pool.submit(enroll));
        }
      }
      List<String> enrolled = new ArrayList<>();
      for (Future<String> f : ids) {
        enrolled.add(f.get());
      }
      assertThat(new HashSet<>(enrolled)).hasSize(2 * each);
      List<String> names =
          a.db()
              .jdbi()
              .withHandle(
                  h -> h.createQuery("SELECT name FROM devices").mapTo(String.class).list());
      assertThat(names).hasSize(2 * each).doesNotHaveDuplicates().contains("vm", "vm-2");
    } finally {
      pool.shutdownNow();
      a.db().close();
      b.db().close();
    }
  }

  private static DeviceFacts facts() {
    return new DeviceFacts(
        "vm", null, List.of(), "amd64", 1, 1, 1, "Linux", "6", "t", false, false);
  }
}
