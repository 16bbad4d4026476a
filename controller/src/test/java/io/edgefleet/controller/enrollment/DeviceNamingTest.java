package io.edgefleet.controller.enrollment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ClusterTags;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.devices.DeviceService;
import io.edgefleet.controller.devices.DeviceStatus;
import io.edgefleet.controller.devices.DeviceStatuses;
import io.edgefleet.controller.devices.DeviceStore;
import io.edgefleet.controller.devices.DeviceView;
import io.edgefleet.controller.devices.Presence;
import io.edgefleet.controller.health.TestClock;
import io.edgefleet.controller.onboarding.OnboardingTokens;
import io.edgefleet.controller.onboarding.Preregistrations;
import io.edgefleet.controller.pki.ControllerPki;
import io.edgefleet.controller.selector.Selector;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.EnrollmentRequest;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.tls.Pem;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Device names at enrollment and rename: what the device asks for or its host name, unique across
 * the fleet, and listing the fleet by selector and status in pages.
 */
class DeviceNamingTest {
  static final Instant NOW = Instant.parse("2026-12-01T10:00:00Z");

  @TempDir Path dir;
  Database db;
  TestClock clock;
  AuditLog audit;
  DeviceService devices;
  EnrollmentService enrollment;
  String token;

  @BeforeEach
  void open() {
    db = Database.open(Database.sqliteUrl(dir), null, null);
    clock = new TestClock(NOW);
    audit = new AuditLog(db.jdbi(), clock);
    ControllerPki pki = ControllerPki.open(dir.resolve("pki"), List.of("localhost"), clock);
    DeviceStore store = new DeviceStore();
    Presence presence = new Presence(db.jdbi(), clock);
    devices =
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
    OnboardingTokens tokens = new OnboardingTokens(db.jdbi(), clock, audit);
    enrollment =
        new EnrollmentService(
            db.jdbi(),
            clock,
            store,
            devices,
            tokens,
            new Preregistrations(db.jdbi(), clock, audit),
            pki,
            audit,
            () -> "https://controller/approve",
            Duration.ofSeconds(5),
            1000,
            id -> null);
    token =
        tokens
            .create(
                new OnboardingTokens.CreateRequest("t", Map.of(), null, null, false, 1000), "op")
            .token();
  }

  @AfterEach
  void close() {
    db.close();
  }

  @Test
  void devicesOnHostsWithTheSameNameGetNumberedNames() {
    List<String> names = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      names.add(enroll("vm", null).name());
    }
    assertThat(names).containsExactly("vm", "vm-2", "vm-3");
  }

  @Test
  void aDeviceGetsTheNameItAsksForAndOnlyAValidOne() {
    assertThat(enroll("vm", "till-3").name()).isEqualTo("till-3");
    assertThat(enroll("vm", "till-3").name()).isEqualTo("till-3-2");
    assertThatThrownBy(() -> enroll("vm", "till 3!"))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.DEVICE_NAME_INVALID))
        .hasMessageContaining("letters, digits");
    assertThat(devices.list(Optional.empty())).hasSize(2);
  }

  @Test
  void clusterTagsAreKeptByTheControllerAloneAndOperatorsAreRefusedThem() {
    DeviceView d = enroll("vm", null);
    devices.changeTags(d.id(), new DeviceService.TagChange(Map.of("pool", "sjc"), null), "op");
    assertThat(
            devices.setClusterTags(
                d.id(), Map.of(ClusterTags.NAME, "shop", ClusterTags.ROLE, "server")))
        .isTrue();
    assertThat(devices.get(d.id()).tags())
        .containsEntry("pool", "sjc")
        .containsEntry(ClusterTags.NAME, "shop")
        .containsEntry(ClusterTags.ROLE, "server");
    assertThat(
            devices.setClusterTags(
                d.id(), Map.of(ClusterTags.NAME, "shop", ClusterTags.ROLE, "server")))
        .as("nothing changes")
        .isFalse();
    // An operator can neither set nor remove them, by tag change, token or preregistration.
    for (var change :
        List.of(
            new DeviceService.TagChange(Map.of(ClusterTags.ROLE, "agent"), null),
            new DeviceService.TagChange(null, List.of(ClusterTags.NAME)),
            new DeviceService.TagChange(Map.of(ClusterTags.PREFIX + "anything", "x"), null))) {
      assertThatThrownBy(() -> devices.changeTags(d.id(), change, "op"))
          .isInstanceOfSatisfying(
              ControllerException.class,
              e -> assertThat(e.code()).isEqualTo(ErrorCode.VALIDATION_FAILED))
          .hasMessageContaining(ClusterTags.PREFIX);
    }
    assertThatThrownBy(
            () ->
                new OnboardingTokens(db.jdbi(), clock, audit)
                    .create(
                        new OnboardingTokens.CreateRequest(
                            "t2", Map.of(ClusterTags.NAME, "x"), null, null, false, 10),
                        "op"))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.VALIDATION_FAILED));
    assertThat(devices.get(d.id()).tags()).containsEntry(ClusterTags.ROLE, "server");
    // Leaving the cluster removes them all, other tags stay.
    assertThat(devices.setClusterTags(d.id(), Map.of())).isTrue();
    assertThat(devices.get(d.id()).tags()).isEqualTo(Map.of("pool", "sjc"));
    assertThatThrownBy(() -> devices.setClusterTags(d.id(), Map.of("pool", "x")))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aHostNameThatIsNoValidDeviceNameIsCleanedUp() {
    assertThat(enroll("Kiosk #7 (lobby).", null).name()).isEqualTo("Kiosk--7--lobby");
    assertThat(enroll("x".repeat(70), null).name()).hasSize(63);
    assertThat(enroll("x".repeat(70), null).name()).isEqualTo("x".repeat(61) + "-2");
  }

  @Test
  void renameIsValidatedKeepsNamesUniqueAndIsAudited() {
    DeviceView a = enroll("vm", null);
    DeviceView b = enroll("vm", null);
    clock.advance(Duration.ofSeconds(1));
    assertThat(devices.rename(b.id(), new DeviceService.NameChange("till-2"), "op").name())
        .isEqualTo("till-2");
    assertThat(devices.get(b.id()).name()).isEqualTo("till-2");
    assertThat(audit.recent(1).getFirst().action()).isEqualTo("device.rename");
    assertThat(audit.recent(1).getFirst().detail()).contains("\"from\":\"vm-2\"");

    assertThatThrownBy(() -> devices.rename(b.id(), new DeviceService.NameChange(a.name()), "op"))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.DEVICE_NAME_TAKEN))
        .hasMessageContaining(a.id());
    for (String bad : new String[] {"", "-x", "a/b", "y".repeat(64)}) {
      assertThatThrownBy(() -> devices.rename(b.id(), new DeviceService.NameChange(bad), "op"))
          .as(bad)
          .isInstanceOfSatisfying(
              ControllerException.class,
              e -> assertThat(e.code()).isEqualTo(ErrorCode.DEVICE_NAME_INVALID));
    }
    // the freed name goes to the next device that asks for it
    assertThat(enroll("vm", null).name()).isEqualTo("vm-2");
  }

  @Test
  void theListingFiltersBySelectorAndStatusAndPagesInEnrollmentOrder() {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      clock.advance(Duration.ofSeconds(1));
      String id = enroll("vm", null).id();
      ids.add(id);
      devices.changeTags(
          id, new DeviceService.TagChange(Map.of("site", i % 2 == 0 ? "a" : "b"), null), "op");
    }
    devices.decommission(ids.get(4), "op");

    assertThat(
            devices.list(Selector.parse("*"), Set.of(), Optional.empty(), Optional.empty()).items())
        .extracting(DeviceView::id)
        .containsExactlyElementsOf(ids);
    assertThat(
            devices.list(Selector.parse(""), Set.of(), Optional.empty(), Optional.empty()).next())
        .isNull();
    assertThat(
            devices
                .list(
                    Selector.parse("site=a"),
                    Set.of(DeviceStatus.NEVER_SEEN),
                    Optional.empty(),
                    Optional.empty())
                .items())
        .extracting(DeviceView::id)
        .containsExactly(ids.get(0), ids.get(2));

    List<String> paged = new ArrayList<>();
    Optional<String> after = Optional.empty();
    int pages = 0;
    do {
      DeviceService.Page page =
          devices.list(Selector.everything(), Set.of(), Optional.of(2), after);
      assertThat(page.items()).hasSizeLessThanOrEqualTo(2);
      page.items().forEach(v -> paged.add(v.id()));
      after = Optional.ofNullable(page.next());
      pages++;
    } while (after.isPresent());
    assertThat(paged).containsExactlyElementsOf(ids);
    assertThat(pages).isEqualTo(3);

    // exactly one full page: no cursor to an empty page
    assertThat(
            devices
                .list(Selector.parse("site=b"), Set.of(), Optional.of(2), Optional.empty())
                .next())
        .isNull();
    assertThatThrownBy(
            () ->
                devices.list(
                    Selector.everything(), Set.of(), Optional.of(2), Optional.of("garbage!")))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.VALIDATION_FAILED));
  }

  @Test
  void clusterFactsAreNotTakenFromTheEnrollmentRequest() {
    DeviceFacts claimed =
        new DeviceFacts("vm", null, List.of(), "amd64", 1, 1, 1, "Linux", "6", "t", false, false)
            .withKubernetes("x".repeat(10_000), List.of("not a group version"));
    var answer =
        enrollment.enroll(new EnrollmentRequest(token, null, csr(), claimed, null), "10.0.0.1");

    DeviceFacts stored = devices.get(answer.deviceId()).facts();
    assertThat(stored.hostname()).isEqualTo("vm");
    assertThat(stored.kubernetesVersion()).isNull();
    assertThat(stored.kubernetesApiVersions()).isEmpty();
  }

  private DeviceView enroll(String hostname, String name) {
    DeviceFacts facts =
        new DeviceFacts(
            hostname, null, List.of(), "amd64", 1, 1, 1, "Linux", "6", "t", false, false);
    var answer =
        enrollment.enroll(new EnrollmentRequest(token, null, csr(), facts, name), "10.0.0.1");
    return devices.get(answer.deviceId());
  }

  /** A CSR for a fresh P-256 key, as an agent sends it. */
  static String csr() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      var key = g.generateKeyPair();
      var signer = new JcaContentSignerBuilder("SHA256withECDSA").build(key.getPrivate());
      return Pem.encode(
          "CERTIFICATE REQUEST",
          new JcaPKCS10CertificationRequestBuilder(new X500Principal("CN=t"), key.getPublic())
              .build(signer)
              .getEncoded());
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }
}
