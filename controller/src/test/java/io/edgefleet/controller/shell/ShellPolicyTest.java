package io.edgefleet.controller.shell;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.api.Principal;
import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.health.TestClock;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.ErrorCode;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.assertj.core.api.ThrowableAssert;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShellPolicyTest {
  @TempDir Path dir;
  Database db;
  TestClock clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));
  ShellPolicy policy;

  ShellPolicy.Target plant =
      new ShellPolicy.Target("dev-1", "plant-1", Map.of("site", "plant"), List.of("shell"));
  ShellPolicy.Target office =
      new ShellPolicy.Target("dev-2", "office-1", Map.of("site", "office"), List.of("shell"));
  ShellPolicy.Target locked =
      new ShellPolicy.Target("dev-3", "locked-1", Map.of("site", "plant"), List.of());

  Principal alice = person("alice", "operator");
  Principal bob = person("bob", "operator");

  static Principal person(String name, String role) {
    return new Principal(name, List.of(role), Set.of("tunnels:shell"), false, Optional.empty());
  }

  @BeforeEach
  void open() {
    db = Database.open(Database.sqliteUrl(dir), null, null);
    Map<String, ShellPolicy.Target> all =
        Map.of(plant.id(), plant, office.id(), office, locked.id(), locked);
    policy =
        new ShellPolicy(
            db.jdbi(),
            clock,
            new AuditLog(db.jdbi(), clock),
            id -> Optional.ofNullable(all.get(id)),
            role -> Set.of("viewer", "operator", "admin").contains(role));
  }

  @AfterEach
  void close() {
    db.close();
  }

  static void refused(ThrowableAssert.ThrowingCallable call, ErrorCode code, String text) {
    assertThatThrownBy(call)
        .isInstanceOf(ControllerException.class)
        .hasMessageContaining(text)
        .satisfies(e -> assertThat(((ControllerException) e).code()).isEqualTo(code));
  }

  @Test
  void aGrantCoversItsRoleOnTheDevicesItsSelectorPicksUntilItEnds() {
    refused(
        () -> policy.authorize(alice, plant), ErrorCode.SHELL_NOT_GRANTED, "ask an administrator");
    ShellPolicy.Grant g =
        policy.grant(
            new ShellPolicy.GrantRequest("operator", "site=plant", "8h", null, false, null, null),
            "admin");
    assertThat(policy.authorize(alice, plant).grantId()).isEqualTo(g.id());
    refused(() -> policy.authorize(alice, office), ErrorCode.SHELL_NOT_GRANTED, "office-1");
    refused(
        () -> policy.authorize(person("carol", "viewer"), plant),
        ErrorCode.SHELL_NOT_GRANTED,
        "viewer");
    refused(() -> policy.authorize(alice, locked), ErrorCode.SHELL_DISABLED, "--allow-shell");

    clock.advance(Duration.ofHours(8));
    refused(() -> policy.authorize(alice, plant), ErrorCode.SHELL_NOT_GRANTED, "plant-1");
    assertThat(policy.grants()).singleElement().satisfies(x -> assertThat(x.expired()).isTrue());
  }

  @Test
  void aRoleHeldWithinAProjectCountsOnTheProjectsDevicesOnly() {
    policy.grant(
        new ShellPolicy.GrantRequest("operator", "*", "8h", null, false, null, null), "admin");
    // dora is an operator within the project of the plant only.
    Principal dora =
        new Principal(
            "dora",
            List.of(),
            Set.of("tunnels:shell"),
            false,
            Optional.empty(),
            Optional.of(List.of("site=plant")),
            Map.of("plants", "site=plant"),
            Map.of("plants", List.of("operator")));
    assertThat(policy.authorize(dora, plant).grantId()).isNotEmpty();
    refused(() -> policy.authorize(dora, office), ErrorCode.SHELL_NOT_GRANTED, "office-1");
  }

  @Test
  void badGrantsAreRefused() {
    refused(
        () ->
            policy.grant(
                new ShellPolicy.GrantRequest("nobody", "*", null, null, null, null, null), "admin"),
        ErrorCode.VALIDATION_FAILED,
        "no role 'nobody'");
    refused(
        () ->
            policy.grant(
                new ShellPolicy.GrantRequest("operator", "site in (", null, null, null, null, null),
                "admin"),
        ErrorCode.VALIDATION_FAILED,
        "selector");
    refused(
        () ->
            policy.grant(
                new ShellPolicy.GrantRequest(
                    "operator", "*", null, clock.instant(), null, null, null),
                "admin"),
        ErrorCode.VALIDATION_FAILED,
        "has passed");
    refused(
        () ->
            policy.grant(
                new ShellPolicy.GrantRequest("operator", "*", null, null, null, 0, null), "admin"),
        ErrorCode.VALIDATION_FAILED,
        "approvalMinutes");
  }

  @Test
  void approvalBySecondPersonAllowsForALimitedTime() {
    policy.grant(
        new ShellPolicy.GrantRequest("operator", "*", null, null, true, 30, null), "admin");
    refused(
        () -> policy.authorize(alice, plant),
        ErrorCode.SHELL_APPROVAL_REQUIRED,
        "edgefleet shell request plant-1");
    ShellPolicy.Request r =
        policy.request(alice, new ShellPolicy.RequestInput("dev-1", "disk full"), t -> true);
    assertThat(r.state()).isEqualTo("pending");
    refused(() -> policy.authorize(alice, plant), ErrorCode.SHELL_APPROVAL_REQUIRED, r.id());
    refused(
        () -> policy.decide(r.id(), true, alice, t -> true),
        ErrorCode.SHELL_SELF_APPROVAL,
        "another person");
    // Outside the approver's projects the request does not exist.
    refused(() -> policy.decide(r.id(), true, bob, t -> false), ErrorCode.NOT_FOUND, r.id());
    ShellPolicy.Request approved = policy.decide(r.id(), true, bob, t -> true);
    assertThat(approved.state()).isEqualTo("approved");
    assertThat(approved.decidedBy()).isEqualTo("bob");
    assertThat(approved.expiresAt()).isEqualTo(clock.instant().plus(Duration.ofMinutes(30)));
    assertThat(policy.authorize(alice, plant).requestId()).contains(r.id());
    // The approval is Alice's, for that device only.
    refused(() -> policy.authorize(bob, plant), ErrorCode.SHELL_APPROVAL_REQUIRED, "plant-1");
    refused(() -> policy.authorize(alice, office), ErrorCode.SHELL_APPROVAL_REQUIRED, "office-1");
    refused(
        () -> policy.decide(r.id(), true, bob, t -> true),
        ErrorCode.SHELL_REQUEST_STATE_CONFLICT,
        "approved");

    clock.advance(Duration.ofMinutes(30));
    refused(() -> policy.authorize(alice, plant), ErrorCode.SHELL_APPROVAL_REQUIRED, "plant-1");
    assertThat(policy.visibleRequests(Optional.of("expired"), t -> true)).hasSize(1);
  }

  @Test
  void aPendingRequestExpires() {
    policy.grant(
        new ShellPolicy.GrantRequest("operator", "*", null, null, true, null, null), "admin");
    ShellPolicy.Request r =
        policy.request(alice, new ShellPolicy.RequestInput("dev-1", "reboot loop"), t -> true);
    clock.advance(ShellPolicy.REQUEST_TTL);
    refused(
        () -> policy.decide(r.id(), true, bob, t -> true),
        ErrorCode.SHELL_REQUEST_STATE_CONFLICT,
        "expired");
  }

  @Test
  void requestsNeedAReasonAGrantAndAVisibleDevice() {
    refused(
        () -> policy.request(alice, new ShellPolicy.RequestInput("dev-1", " "), t -> true),
        ErrorCode.VALIDATION_FAILED,
        "reason");
    refused(
        () -> policy.request(alice, new ShellPolicy.RequestInput("dev-1", "x"), t -> true),
        ErrorCode.SHELL_NOT_GRANTED,
        "grant first");
    policy.grant(
        new ShellPolicy.GrantRequest("operator", "*", null, null, true, null, null), "admin");
    refused(
        () -> policy.request(alice, new ShellPolicy.RequestInput("dev-1", "x"), t -> false),
        ErrorCode.NOT_FOUND,
        "dev-1");
  }
}
