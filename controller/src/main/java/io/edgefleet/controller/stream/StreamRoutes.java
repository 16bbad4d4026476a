package io.edgefleet.controller.stream;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.selector.ProjectScope;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;

/**
 * {@code GET /api/v1/stream}: what changes in the fleet, as server-sent events, for the web console
 * (read with fetch, since it sends the bearer token) and any other client.
 */
public record StreamRoutes(StreamHub hub) implements Routes {
  private static final byte[] PING = ": ping\n\n".getBytes(StandardCharsets.UTF_8);

  @Override
  public void register(Router r) {
    r.get(
        "/api/v1/stream",
        ADMIN,
        c -> {
          ProjectScope scope = ProjectScope.of(c);
          Subscription s =
              hub.open(
                  Topic.parse(c.query("topics")),
                  scope.confined() || scope.requested().isPresent()
                      ? Optional.of(scope.devices())
                      : Optional.empty());
          return Reply.stream(
              "text/event-stream; charset=utf-8",
              Map.of("X-Accel-Buffering", "no"),
              out -> {
                try (s) {
                  while (true) {
                    Optional<StreamMessage> m = s.next(hub.limits().ping());
                    out.write(m.isPresent() ? m.get().bytes() : PING);
                    out.flush();
                  }
                } catch (Subscription.StreamEnded ended) {
                  // The controller is stopping or the client read too slowly: the answer ends.
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              });
        });
  }
}
