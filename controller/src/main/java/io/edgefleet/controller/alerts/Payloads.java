package io.edgefleet.controller.alerts;

import io.edgefleet.protocol.Json;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The bodies receivers get, one alert per notification. Built when the notification is queued and
 * stored with it, so a retry sends exactly what was decided then.
 */
final class Payloads {
  /** Alertmanager's "not ended" time. */
  static final String ZERO_TIME = "0001-01-01T00:00:00Z";

  private Payloads() {}

  /**
   * One alert at the moment of a notification.
   *
   * @param status {@code firing} or {@code resolved}
   * @param endsAt when it resolved; null while firing
   */
  record Notice(
      String status,
      String fingerprint,
      String rule,
      String type,
      String severity,
      String subject,
      Map<String, String> labels,
      Map<String, String> annotations,
      Instant startsAt,
      Instant endsAt) {

    String summary() {
      return annotations.getOrDefault("summary", rule);
    }

    String description() {
      return annotations.getOrDefault("description", "");
    }
  }

  static String body(ReceiverFormat format, Notice n, String receiver, String controllerUrl) {
    return switch (format) {
      case GENERIC -> Json.write(generic(n, receiver, controllerUrl));
      case SLACK -> Json.write(slack(n, controllerUrl));
      case ALERTMANAGER -> Json.write(alertmanager(n, receiver, controllerUrl));
    };
  }

  static Map<String, Object> generic(Notice n, String receiver, String controllerUrl) {
    Map<String, Object> alert = new LinkedHashMap<>();
    alert.put("fingerprint", n.fingerprint());
    alert.put("rule", n.rule());
    alert.put("type", n.type());
    alert.put("severity", n.severity());
    alert.put("subject", n.subject());
    alert.put("summary", n.summary());
    alert.put("description", n.description());
    alert.put("labels", n.labels());
    alert.put("startsAt", n.startsAt().toString());
    if (n.endsAt() != null) {
      alert.put("endsAt", n.endsAt().toString());
    }
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("version", "1");
    body.put("status", n.status());
    body.put("receiver", receiver);
    body.put("controller", controllerUrl);
    body.put("alert", alert);
    return body;
  }

  /** A Slack incoming-webhook message: {@code text} for notifications, blocks for the channel. */
  static Map<String, Object> slack(Notice n, String controllerUrl) {
    boolean firing = n.status().equals("firing");
    String head =
        (firing ? ":rotating_light: [FIRING] " : ":white_check_mark: [RESOLVED] ") + n.summary();
    String context =
        "rule *"
            + escape(n.rule())
            + "* · "
            + escape(n.severity())
            + " · since "
            + n.startsAt()
            + (n.endsAt() == null ? "" : " · resolved " + n.endsAt());
    List<Object> blocks = new ArrayList<>();
    blocks.add(
        Map.of(
            "type",
            "section",
            "text",
            Map.of(
                "type", "mrkdwn", "text", "*" + escape(head) + "*\n" + escape(n.description()))));
    blocks.add(
        Map.of(
            "type",
            "context",
            "elements",
            List.of(Map.of("type", "mrkdwn", "text", context + " · " + escape(controllerUrl)))));
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("text", escape(head));
    body.put("blocks", blocks);
    return body;
  }

  /** The body Alertmanager sends to its webhook receivers (version 4), with one alert. */
  static Map<String, Object> alertmanager(Notice n, String receiver, String controllerUrl) {
    Map<String, Object> alert = new LinkedHashMap<>();
    alert.put("status", n.status());
    alert.put("labels", n.labels());
    alert.put("annotations", n.annotations());
    alert.put("startsAt", n.startsAt().toString());
    alert.put("endsAt", n.endsAt() == null ? ZERO_TIME : n.endsAt().toString());
    alert.put("generatorURL", controllerUrl + "/api/v1/alerts");
    alert.put("fingerprint", n.fingerprint());
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("version", "4");
    body.put(
        "groupKey",
        "{}:{alertname=\""
            + n.labels().getOrDefault("alertname", n.rule())
            + "\",fingerprint=\""
            + n.fingerprint()
            + "\"}");
    body.put("truncatedAlerts", 0);
    body.put("status", n.status());
    body.put("receiver", receiver);
    body.put("groupLabels", Map.of("alertname", n.labels().getOrDefault("alertname", n.rule())));
    body.put("commonLabels", n.labels());
    body.put("commonAnnotations", n.annotations());
    body.put("externalURL", controllerUrl);
    body.put("alerts", List.of(alert));
    return body;
  }

  /** Slack's three control characters in mrkdwn text. */
  static String escape(String s) {
    return s == null ? "" : s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }
}
