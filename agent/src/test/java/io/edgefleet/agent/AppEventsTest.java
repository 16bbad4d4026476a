package io.edgefleet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.AppState;
import io.edgefleet.protocol.DesiredState;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The device events a reconcile pass reports about its apps name the app and its revision. */
class AppEventsTest {
  record Event(String kind, String severity, String app, String message) {}

  final List<Event> events = new ArrayList<>();
  final ReconcileLoop.Sink sink =
      new ReconcileLoop.Sink() {
        @Override
        public void event(String kind, String severity, String app, String message) {
          events.add(new Event(kind, severity, app, message));
        }

        @Override
        public boolean report(AgentMessage.AppReport report) {
          return true;
        }

        @Override
        public void problem(String message) {}
      };

  static final DesiredState DESIRED =
      new DesiredState(
          "dev-1",
          3,
          Instant.parse("2026-11-21T10:00:00Z"),
          List.of(
              new DesiredState.DesiredApp("pos", "catalog", "2.0.0", "sha256:b", 10),
              new DesiredState.DesiredApp(
                  "web", "fleet", "sha256:1a2b", "sha256:c", 10, "3f2a9c1e2b4d5e6f")));

  @Test
  void aFailedAppIsNamedWithItsRevisionInTheMessageAndAsItsApp() {
    ReconcileLoop.reportChanges(
        List.of(new AppState("pos", "1.0.0", AppState.Phase.READY, null)),
        List.of(new AppState("pos", "2.0.0", AppState.Phase.FAILED, "ImagePullBackOff")),
        DESIRED,
        sink);
    assertThat(events)
        .containsExactly(
            new Event(
                "app-failed", "error", "pos", "app pos revision 2.0.0 failed: ImagePullBackOff"));
  }

  @Test
  void everyAppEventNamesItsApp() {
    ReconcileLoop.reportChanges(
        List.of(
            new AppState("web", "sha256:1a2b", AppState.Phase.FAILED, "crash"),
            new AppState("old", "1", AppState.Phase.READY, null)),
        List.of(
            new AppState("web", "sha256:1a2b", AppState.Phase.READY, null),
            new AppState("new", "1", AppState.Phase.FAILED, null)),
        DESIRED,
        sink);
    assertThat(events)
        .containsExactly(
            new Event(
                "app-recovered",
                "info",
                "web",
                "app web revision sha256:1a2b from commit 3f2a9c1e2b4d recovered and is ready"),
            new Event("app-failed", "error", "new", "app new revision 1 failed"),
            new Event("app-removed", "info", "old", "app old removed"));
  }
}
