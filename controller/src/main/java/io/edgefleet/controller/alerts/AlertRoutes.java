package io.edgefleet.controller.alerts;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.api.Call;
import io.edgefleet.controller.api.Items;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.selector.ProjectScope;
import io.edgefleet.protocol.ErrorCode;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.Supplier;

/** The REST routes of alerts, alert rules and receivers. */
public record AlertRoutes(Services alerts) implements Routes {
  /** The services behind the routes. */
  /**
   * @param deviceTags every device's tags by id, to show a caller confined to projects only the
   *     alerts about its projects' devices
   */
  public record Services(
      AlertRules rules,
      AlertReceivers receivers,
      AlertEngine engine,
      Supplier<Map<String, Map<String, String>>> deviceTags) {}

  /** The rule the path names, if the caller sees it: another project's is as one that is not. */
  private Rule rule(Call c) {
    Rule rule = alerts.rules().get(c.path("id"));
    return ProjectScope.of(c)
        .check(rule, rule.project(), ControllerException.notFound("alert rule", c.path("id")));
  }

  private Object receiver(Call c) {
    if (ProjectScope.of(c).confined()) {
      throw ControllerException.notFound("alert receiver", c.path("id"));
    }
    return alerts.receivers().get(c.path("id"));
  }

  @Override
  public void register(Router r) {
    r.get(
        "/api/v1/alerts",
        ADMIN,
        c -> {
          ProjectScope scope = ProjectScope.of(c);
          if (!scope.confined() && scope.requested().isEmpty()) {
            return Reply.ok(new Items<>(alerts.engine().list(c.query("state"), c.limit())));
          }
          // Only the alerts about a device the caller sees; fleet-wide ones are not its own.
          Predicate<Map<String, String>> visible = scope.devices();
          Map<String, Map<String, String>> tags = alerts.deviceTags().get();
          return Reply.ok(
              new Items<>(
                  alerts.engine().list(c.query("state"), 1000).stream()
                      .filter(a -> a.deviceId() != null && tags.containsKey(a.deviceId()))
                      .filter(a -> visible.test(tags.get(a.deviceId())))
                      .limit(c.limit())
                      .toList()));
        });

    r.get(
        "/api/v1/alerts/rules",
        ADMIN,
        c ->
            Reply.ok(new Items<>(ProjectScope.of(c).filter(alerts.rules().list(), Rule::project))));
    r.post(
        "/api/v1/alerts/rules",
        ADMIN,
        c ->
            Reply.created(
                alerts
                    .rules()
                    .create(
                        c.body(JsonNode.class),
                        c.actor(),
                        ProjectScope.of(c).createIn("alert rule"))));
    r.get("/api/v1/alerts/rules/{id}", ADMIN, c -> Reply.ok(rule(c)));
    r.delete(
        "/api/v1/alerts/rules/{id}",
        ADMIN,
        c -> {
          alerts.rules().delete(rule(c).id(), c.actor());
          return Reply.noContent();
        });

    // Receivers are fleet-wide (their URLs often carry secrets): not for callers confined to
    // projects, to whom they do not exist.
    r.get(
        "/api/v1/alerts/receivers",
        ADMIN,
        c ->
            Reply.ok(
                new Items<>(
                    ProjectScope.of(c).confined() ? List.of() : alerts.receivers().list())));
    r.post(
        "/api/v1/alerts/receivers",
        ADMIN,
        c -> {
          if (ProjectScope.of(c).confined()) {
            throw new ControllerException(
                ErrorCode.PERMISSION_DENIED,
                "receivers are fleet-wide and your roles are held within projects: ask an"
                    + " administrator to add the receiver; a rule of your project can then name"
                    + " it");
          }
          return Reply.created(alerts.receivers().create(c.body(JsonNode.class), c.actor()));
        });
    r.get("/api/v1/alerts/receivers/{id}", ADMIN, c -> Reply.ok(receiver(c)));
    r.delete(
        "/api/v1/alerts/receivers/{id}",
        ADMIN,
        c -> {
          receiver(c);
          alerts.receivers().delete(c.path("id"), c.actor());
          return Reply.noContent();
        });
  }
}
