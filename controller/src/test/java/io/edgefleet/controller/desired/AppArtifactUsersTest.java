package io.edgefleet.controller.desired;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.ArtifactRef;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AppArtifactUsersTest {
  static final String IMAGE = "sha256:" + "a".repeat(64);
  static final String DISK = "sha256:" + "b".repeat(64);
  static final String UNUSED = "sha256:" + "c".repeat(64);

  @TempDir Path tmp;
  Database db;
  AppArtifactUsers users;

  @BeforeEach
  void setUp() {
    db = Database.open(Database.sqliteUrl(tmp), null, null);
    users = new AppArtifactUsers(db.jdbi());
    BundleStore bundles = new BundleStore(db.jdbi(), Clock.systemUTC());
    db.jdbi()
        .useHandle(
            h -> {
              bundles.put(
                  h,
                  "sha256:" + "1".repeat(64),
                  "kind: Container",
                  "container",
                  List.of(new ArtifactRef(IMAGE, 10)));
              for (String device : List.of("d1", "d2")) {
                h.execute(
                    "INSERT INTO device_apps (device_id, app, source, desired_revision,"
                        + " desired_bundle, desired_since) VALUES (?, 'web', 'git', 'r1', ?, 0)",
                    device,
                    "sha256:" + "1".repeat(64));
              }
              h.execute(
                  "INSERT INTO device_stages (device_id, app, revision, artifacts) VALUES ('d3',"
                      + " 'hmi', 'r2', ?)",
                  "[{\"digest\":\"" + DISK + "\",\"size\":5}]");
            });
  }

  @AfterEach
  void tearDown() {
    db.close();
  }

  @Test
  void anArtifactInABundleDevicesRunOrInAStageIsInUseAndSaysByWhom() {
    assertThat(users.userOf(IMAGE)).contains("app web runs it on 2 devices");
    assertThat(users.userOf(DISK)).contains("app hmi stages it on 1 device");
    assertThat(users.userOf(UNUSED)).isEmpty();
    assertThat(users.userOf("sha256:%")).isEmpty();
  }

  @Test
  void aBundleNoDeviceIsToldToRunAnyMoreDoesNotHoldItsArtifacts() {
    db.jdbi().useHandle(h -> h.execute("DELETE FROM device_apps"));
    assertThat(users.userOf(IMAGE)).isEmpty();
  }
}
