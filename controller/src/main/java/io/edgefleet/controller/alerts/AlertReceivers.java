package io.edgefleet.controller.alerts;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.controller.audit.AuditLog;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.common.Ids;
import io.edgefleet.controller.secrets.SecretBox;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.tls.Pem;
import java.net.URI;
import java.net.URISyntaxException;
import java.security.cert.X509Certificate;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * Webhook receivers of alert notifications. The URL is sealed at rest (Slack's and many others
 * carry their secret in the path) and shown only as a hint ({@code https://hooks.slack.com/…}).
 * Every change is audited in the same transaction. Thread-safe.
 */
public final class AlertReceivers {
  private static final Set<String> FIELDS =
      new LinkedHashSet<>(List.of("name", "format", "url", "caPem"));
  private static final int MAX_URL = 2000;
  private static final int MAX_CA = 64 * 1024;

  private final Jdbi jdbi;
  private final Clock clock;
  private final AuditLog audit;
  private final SecretBox secrets;
  private final AlertRules rules;

  /** A receiver as the API shows it: the URL only as a hint. */
  public record View(
      String id,
      String name,
      ReceiverFormat format,
      String url,
      boolean customCa,
      String createdBy,
      Instant createdAt) {}

  /** A receiver with everything needed to deliver to it. */
  record Target(String id, String name, ReceiverFormat format, URI url, String caPem) {}

  public AlertReceivers(
      Jdbi jdbi, Clock clock, AuditLog audit, SecretBox secrets, AlertRules rules) {
    this.jdbi = jdbi;
    this.clock = clock;
    this.audit = audit;
    this.secrets = secrets;
    this.rules = rules;
  }

  /**
   * Creates a receiver from its JSON description ({@code name}, {@code format}, {@code url},
   * optional {@code caPem}).
   *
   * @throws ControllerException {@code VALIDATION_FAILED} naming every problem, {@code CONFLICT}
   *     when the name is taken
   */
  public View create(JsonNode body, String actor) {
    Fields f = Fields.of(body, "alert receiver", FIELDS);
    String name = f.text("name");
    String formatText = f.text("format");
    String url = f.text("url");
    String caPem = f.text("caPem");
    if (name == null || name.isEmpty()) {
      f.problem("'name' is required");
    } else if (!AlertRules.NAME.matcher(name).matches()) {
      f.problem(
          "name '"
              + name
              + "' must be 1-63 lower-case letters, digits and '-', starting and ending with a"
              + " letter or digit");
    }
    ReceiverFormat format = ReceiverFormat.GENERIC;
    try {
      format = ReceiverFormat.parse(formatText);
    } catch (ControllerException e) {
      f.problem(e.getMessage());
    }
    URI uri = null;
    if (url == null || url.isEmpty()) {
      f.problem("'url' is required: the webhook's http or https URL");
    } else {
      try {
        uri = checkUrl(url);
      } catch (IllegalArgumentException e) {
        f.problem(e.getMessage());
      }
    }
    if (caPem != null && !caPem.isBlank()) {
      if (uri != null && !"https".equals(uri.getScheme())) {
        f.problem("'caPem' only applies to https URLs");
      }
      try {
        certificates(caPem);
      } catch (IllegalArgumentException e) {
        f.problem("caPem: " + e.getMessage());
      }
    } else {
      caPem = null;
    }
    f.check("alert receiver" + (name == null ? "" : " '" + name + "'"));

    String id = Ids.next("rcv");
    View view =
        new View(
            id,
            name,
            format,
            hint(uri),
            caPem != null,
            actor,
            Instant.ofEpochMilli(clock.millis()));
    String ca = caPem;
    URI target = uri;
    jdbi.useTransaction(
        h -> {
          boolean taken =
              h.createQuery("SELECT COUNT(*) FROM alert_receivers WHERE name = :n")
                      .bind("n", view.name())
                      .mapTo(Integer.class)
                      .one()
                  > 0;
          if (taken) {
            throw new ControllerException(
                ErrorCode.CONFLICT,
                "an alert receiver named '"
                    + view.name()
                    + "' exists; delete it first or pick another name");
          }
          h.createUpdate(
                  "INSERT INTO alert_receivers (id, name, format, url_sealed, url_hint, ca_pem,"
                      + " created_by, created_at) VALUES (:id, :name, :format, :url, :hint, :ca,"
                      + " :by, :at)")
              .bind("id", id)
              .bind("name", view.name())
              .bind("format", view.format().id())
              .bind("url", secrets.seal(target.toString(), context(id)))
              .bind("hint", view.url())
              .bind("ca", ca)
              .bind("by", actor)
              .bind("at", view.createdAt().toEpochMilli())
              .execute();
          audit.record(
              h,
              actor,
              "alert.receiver.create",
              view.name(),
              Map.of("format", view.format().id(), "url", view.url()));
        });
    return view;
  }

  public List<View> list() {
    return jdbi.withHandle(
        h ->
            h.createQuery(
                    "SELECT id, name, format, url_hint, ca_pem, created_by, created_at FROM"
                        + " alert_receivers ORDER BY name")
                .map(
                    (rs, ctx) ->
                        new View(
                            rs.getString(1),
                            rs.getString(2),
                            ReceiverFormat.parse(rs.getString(3)),
                            rs.getString(4),
                            rs.getString(5) != null,
                            rs.getString(6),
                            Instant.ofEpochMilli(rs.getLong(7))))
                .list());
  }

  public View get(String idOrName) {
    return list().stream()
        .filter(v -> v.id().equals(idOrName) || v.name().equals(idOrName))
        .findFirst()
        .orElseThrow(() -> ControllerException.notFound("alert receiver", idOrName));
  }

  /**
   * Deletes a receiver and its undelivered notifications.
   *
   * @throws ControllerException {@code CONFLICT} while rules name it
   */
  public void delete(String idOrName, String actor) {
    View v = get(idOrName);
    jdbi.useTransaction(
        h -> {
          List<String> using = rules.usingReceiver(h, v.name());
          if (!using.isEmpty()) {
            throw new ControllerException(
                ErrorCode.CONFLICT,
                "receiver '"
                    + v.name()
                    + "' is used by the alert rule"
                    + (using.size() > 1 ? "s " : " ")
                    + String.join(", ", using)
                    + "; delete those rules first");
          }
          h.createUpdate("DELETE FROM alert_notifications WHERE receiver_id = :id")
              .bind("id", v.id())
              .execute();
          h.createUpdate("DELETE FROM alert_receivers WHERE id = :id").bind("id", v.id()).execute();
          audit.record(h, actor, "alert.receiver.delete", v.name(), Map.of());
        });
  }

  /** Every receiver with its URL unsealed, by id. */
  Map<String, Target> targets(Handle h) {
    Map<String, Target> out = new java.util.LinkedHashMap<>();
    h.createQuery("SELECT id, name, format, url_sealed, ca_pem FROM alert_receivers ORDER BY name")
        .map((rs, ctx) -> target(rs))
        .forEach(t -> out.put(t.id(), t));
    return out;
  }

  /** One receiver with its URL unsealed, if it (still) exists. */
  Optional<Target> target(Handle h, String id) {
    return h.createQuery(
            "SELECT id, name, format, url_sealed, ca_pem FROM alert_receivers WHERE id = :id")
        .bind("id", id)
        .map((rs, ctx) -> target(rs))
        .findOne();
  }

  private Target target(ResultSet rs) throws SQLException {
    return new Target(
        rs.getString(1),
        rs.getString(2),
        ReceiverFormat.parse(rs.getString(3)),
        URI.create(secrets.open(rs.getString(4), context(rs.getString(1)))),
        rs.getString(5));
  }

  private static String context(String id) {
    return "alert-receiver:" + id;
  }

  /** Checks a webhook URL: absolute http(s) with a host, no fragment, of bounded length. */
  static URI checkUrl(String url) {
    if (url.length() > MAX_URL) {
      throw new IllegalArgumentException("url is longer than " + MAX_URL + " characters");
    }
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("url '" + url + "' is not a URL: " + e.getReason());
    }
    String scheme = Optional.ofNullable(uri.getScheme()).orElse("").toLowerCase(Locale.ROOT);
    if (!scheme.equals("http") && !scheme.equals("https")) {
      throw new IllegalArgumentException(
          "url '" + url + "' must start with https:// (or http:// inside a trusted network)");
    }
    if (uri.getHost() == null || uri.getHost().isBlank()) {
      throw new IllegalArgumentException("url '" + url + "' has no host");
    }
    if (uri.getRawFragment() != null) {
      throw new IllegalArgumentException("url '" + url + "' must not have a #fragment");
    }
    return uri;
  }

  /** Scheme, host and port, and an ellipsis for a path that may hold a secret. */
  static String hint(URI uri) {
    if (uri == null) {
      return "";
    }
    String path = Optional.ofNullable(uri.getRawPath()).orElse("");
    boolean more = (!path.isEmpty() && !path.equals("/")) || uri.getRawQuery() != null;
    return uri.getScheme()
        + "://"
        + uri.getHost()
        + (uri.getPort() >= 0 ? ":" + uri.getPort() : "")
        + (more ? "/…" : "");
  }

  /** Parses PEM certificates; at least one. */
  static List<X509Certificate> certificates(String pem) {
    if (pem.length() > MAX_CA) {
      throw new IllegalArgumentException("larger than " + MAX_CA + " bytes");
    }
    List<X509Certificate> out;
    try {
      out = Pem.certificates(pem);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          "not a PEM certificate (-----BEGIN CERTIFICATE-----): " + e.getMessage());
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("holds no -----BEGIN CERTIFICATE----- block");
    }
    return out;
  }
}
