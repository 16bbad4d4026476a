package io.edgefleet.controller.replicas;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.api.Call;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.common.TrustedCas;
import io.edgefleet.controller.health.TestClock;
import io.edgefleet.controller.pki.ControllerPki;
import io.edgefleet.controller.store.Database;
import io.edgefleet.protocol.ErrorCode;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where a session with a device is served: here when the socket is here or nowhere, at the holder
 * when another live replica holds it, and a clear refusal when the holder has stopped.
 */
class SessionRoutingTest {
  @TempDir Path dir;
  Database db;
  final TestClock clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));
  final Set<String> connectedHere = new java.util.HashSet<>();
  final Map<String, String> holders = new HashMap<>();
  ReplicaDirectory self;
  ReplicaDirectory other;
  SessionRouting routing;

  @BeforeEach
  void open() throws Exception {
    db = Database.open(Database.sqliteUrl(dir), null, null);
    self =
        new ReplicaDirectory(
            db.jdbi(), clock, "1@a", () -> "https://a:7443", Duration.ofSeconds(15));
    other =
        new ReplicaDirectory(
            db.jdbi(), clock, "2@b", () -> "https://b:7443", Duration.ofSeconds(15));
    ControllerPki.open(dir.resolve("pki"), List.of("localhost"), clock);
    routing =
        new SessionRouting(
            self,
            idOrName -> idOrName.startsWith("missing") ? Optional.empty() : Optional.of(idOrName),
            connectedHere::contains,
            id -> Optional.ofNullable(holders.get(id)),
            TrustedCas.sslContext(dir.resolve("pki/ca.crt")));
  }

  @AfterEach
  void close() {
    routing.close();
    db.close();
  }

  @Test
  void aDeviceHeldByAnotherLiveReplicaGoesThereAndOneHeldHereOrNowhereStays() {
    self.beat();
    other.beat();
    holders.put("d1", "2@b");
    assertThat(routing.target("d1"))
        .isInstanceOfSatisfying(
            SessionRouting.Target.Elsewhere.class,
            e -> assertThat(e.replica().url().toString()).isEqualTo("https://b:7443"));

    connectedHere.add("d1");
    assertThat(routing.target("d1")).isInstanceOf(SessionRouting.Target.Here.class);
    assertThat(routing.target("d2"))
        .as("held by none")
        .isInstanceOf(SessionRouting.Target.Here.class);
    holders.put("d3", "1@a");
    assertThat(routing.target("d3"))
        .as("this replica named as holder but the socket is gone")
        .isInstanceOf(SessionRouting.Target.Here.class);
    assertThat(routing.target("missing-1")).isInstanceOf(SessionRouting.Target.Here.class);
  }

  @Test
  void aDeviceHeldByAReplicaThatStoppedBeatingIsRefusedNamingTheReplica() {
    other.beat();
    holders.put("d1", "2@b");
    clock.advance(Duration.ofSeconds(16));
    self.beat();
    assertThat(routing.target("d1")).isEqualTo(new SessionRouting.Target.Lost("2@b"));

    Router router = new Router();
    router.get(
        "/api/v1/devices/{id}/logs", Router.Access.ADMIN, c -> Reply.ok(Map.of("served", "here")));
    routing.route(router, List.of("/api/v1/devices/{id}/logs"));
    Router.Handler handler =
        router.match("GET", "/api/v1/devices/d1/logs").orElseThrow().route().handler();
    assertThatThrownBy(() -> handler.handle(call("d1", Map.of())))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.DEVICE_NOT_CONNECTED);
              assertThat(e.getMessage()).contains("2@b").contains("reconnects to another replica");
            });

    // A forwarded request is served where it arrives, never forwarded again.
    Reply reply =
        handler.handle(call("d1", Map.of(SessionRouting.FORWARDED_BY.toLowerCase(), "3@c")));
    assertThat(reply.body()).isEqualTo(Map.of("served", "here"));
  }

  @Test
  void aHolderThatCannotBeReachedIsAnsweredUnavailableNamingItAndTheUrlTried() throws Exception {
    int closed;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    String url = "https://127.0.0.1:" + closed;
    ReplicaDirectory gone =
        new ReplicaDirectory(db.jdbi(), clock, "3@c", () -> url, Duration.ofSeconds(15));
    gone.beat();
    holders.put("d1", "3@c");
    Router router = new Router();
    router.get(
        "/api/v1/devices/{id}/logs", Router.Access.ADMIN, c -> Reply.ok(Map.of("served", "here")));
    routing.route(router, List.of("/api/v1/devices/{id}/logs"));
    Router.Handler handler =
        router.match("GET", "/api/v1/devices/d1/logs").orElseThrow().route().handler();

    assertThatThrownBy(() -> handler.handle(call("d1", Map.of())))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
              assertThat(e.getMessage()).contains("3@c").contains(url);
            });
  }

  @Test
  void routesWithoutADeviceOrNotRegisteredAreRefused() {
    Router router = new Router();
    assertThatThrownBy(() -> routing.route(router, List.of("/api/v1/devices/{id}/logs")))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> routing.route(router, List.of("/api/v1/sessions")))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void thePathAndQueryAreEncodedAgainAsTheRouterDecodesThem() {
    Map<String, String> query = new LinkedHashMap<>();
    query.put("app", "web");
    query.put("host", "a b&c=d");
    assertThat(
            SessionRouting.pathAndQuery(
                "/api/v1/devices/{id}/logs", Map.of("id", "dev 1/ü"), query))
        .isEqualTo("/api/v1/devices/dev%201%2F%C3%BC/logs?app=web&host=a+b%26c%3Dd");
    assertThat(
            SessionRouting.pathAndQuery("/api/v1/devices/{id}/shell", Map.of("id", "d"), Map.of()))
        .isEqualTo("/api/v1/devices/d/shell");
  }

  private static Call call(String device, Map<String, String> headers) {
    return new Call(
        Map.of("id", device),
        Map.of("app", "web"),
        new byte[0],
        "admin",
        Optional.empty(),
        "127.0.0.1",
        headers);
  }
}
