package io.edgefleet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.agent.secrets.SecretSync;
import io.edgefleet.device.desiredstate.Verified;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.DesiredState;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrustGuardTest {
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  private final List<String> effects = new ArrayList<>();
  private final AtomicReference<Verified> current = new AtomicReference<>();
  private final SecretSync secrets =
      new SecretSync(
          Optional.empty(),
          () -> "d",
          () -> null,
          (n, v) -> null,
          Runnable::run,
          timer,
          Duration.ofHours(1),
          (k, s, m) -> {});
  @TempDir Path dir;

  private TrustGuard guard() {
    return new TrustGuard(
        dir,
        () -> Optional.ofNullable(current.get()),
        secrets,
        new TrustGuard.Effects() {
          @Override
          public void reconcile() {
            effects.add("reconcile");
          }

          @Override
          public void event(String kind, String severity, String message) {
            effects.add(kind);
          }
        });
  }

  @AfterEach
  void stop() {
    timer.shutdownNow();
  }

  private static Verified doc(long generation, String... apps) {
    List<DesiredState.DesiredApp> list = new ArrayList<>();
    for (String a : apps) {
      boolean keep = a.startsWith("keep");
      list.add(new DesiredState.DesiredApp(a, "git", "r1", "sha256:x", 1, null, keep));
    }
    return new Verified(
        null,
        new DesiredState(
            "d",
            generation,
            Instant.EPOCH,
            list,
            List.of(),
            List.of(new DesiredState.SecretRef("s", 1, "default"))),
        "k",
        null);
  }

  @Test
  void quarantineKeepsOnlyTheAppsMarkedAndFreezesTheDocument() {
    TrustGuard guard = guard();
    current.set(doc(5, "web", "keep-agent"));
    assertThat(guard.effective()).contains(current.get());

    guard.handle(new ControllerMessage.TrustState("QUARANTINED", "PCR 7"));
    assertThat(guard.quarantined()).isTrue();
    assertThat(secrets.quarantined()).isTrue();
    DesiredState frozen = guard.effective().orElseThrow().state();
    assertThat(frozen.generation()).isEqualTo(5);
    assertThat(frozen.apps())
        .extracting(DesiredState.DesiredApp::name)
        .containsExactly("keep-agent");
    assertThat(frozen.secrets()).isEmpty();
    assertThat(effects).containsExactly("reconcile", "quarantined");

    // A newer document is not applied meanwhile; a repeated verdict changes nothing.
    current.set(doc(6, "web", "keep-agent", "new"));
    guard.handle(new ControllerMessage.TrustState("QUARANTINED", "PCR 7"));
    guard.handle(new ControllerMessage.TrustState("UNVERIFIED", null));
    assertThat(guard.effective().orElseThrow().state().generation()).isEqualTo(5);
    assertThat(effects).hasSize(2);

    // Trusted again: the current document, whole.
    guard.handle(new ControllerMessage.TrustState("TRUSTED", null));
    assertThat(guard.quarantined()).isFalse();
    assertThat(secrets.quarantined()).isFalse();
    assertThat(guard.effective()).contains(current.get());
    assertThat(effects).containsExactly("reconcile", "quarantined", "reconcile", "trusted");
    assertThat(dir.resolve(TrustGuard.FILE)).doesNotExist();
  }

  @Test
  void aQuarantineOutlivesARestart() {
    current.set(doc(5, "web", "keep-agent"));
    guard().handle(new ControllerMessage.TrustState("QUARANTINED", "PCR 7"));
    assertThat(dir.resolve(TrustGuard.FILE)).content().contains("QUARANTINED").contains("PCR 7");

    TrustGuard restarted = guard();
    assertThat(restarted.quarantined()).isTrue();
    assertThat(restarted.effective().orElseThrow().state().apps())
        .extracting(DesiredState.DesiredApp::name)
        .containsExactly("keep-agent");
    restarted.handle(new ControllerMessage.TrustState("TRUSTED", null));
    assertThat(guard().quarantined()).isFalse();
  }

  @Test
  void quarantineWithoutADocumentRunsNothing() {
    TrustGuard guard = guard();
    guard.handle(new ControllerMessage.TrustState("QUARANTINED", null));
    current.set(doc(1, "web"));
    assertThat(guard.effective()).isEmpty();
  }
}
