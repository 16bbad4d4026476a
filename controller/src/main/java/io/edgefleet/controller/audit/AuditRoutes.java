package io.edgefleet.controller.audit;

import static io.edgefleet.controller.api.Router.Access.ADMIN;

import io.edgefleet.controller.api.Call;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.controller.pki.SigningKeys;
import io.edgefleet.protocol.Durations;
import io.edgefleet.protocol.Json;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Optional;

/**
 * The audit log: who changed what, newest first, filtered and in pages; its verification, export
 * and checkpoint key (decision 0034).
 */
public record AuditRoutes(AuditLog audit, AuditVerifier verifier, Clock clock) implements Routes {
  /** Export page size: entries read from the database at a time while streaming. */
  static final int EXPORT_PAGE = 500;

  /** {@code GET /api/v1/audit/key}: what verifies checkpoints. */
  public record KeyView(
      boolean checkpoints,
      String keyId,
      String fingerprint,
      String publicKeyPem,
      int checkpointEvery,
      long checkpointIntervalSeconds,
      long headSeq,
      String headHash,
      AuditLog.Checkpoint latestCheckpoint) {}

  /** The longest filter value taken: longer ones are refused, not cut. */
  static final int MAX_FILTER = 200;

  @Override
  public void register(Router r) {
    r.get(
        "/api/v1/audit",
        ADMIN,
        c ->
            Reply.ok(
                audit.page(
                    new AuditLog.Query(
                        filter(c, "actor"),
                        filter(c, "action"),
                        filter(c, "target"),
                        filter(c, "q"),
                        c.query("before").filter(b -> !b.isEmpty()).map(AuditRoutes::position),
                        c.limit()))));
    r.get(
        "/api/v1/audit/key",
        ADMIN,
        c -> {
          AuditLog.Head head = audit.head();
          var key = audit.signingKey();
          return Reply.ok(
              new KeyView(
                  key.isPresent(),
                  key.map(SigningKeys.Key::id).orElse(null),
                  key.map(SigningKeys.Key::fingerprint).orElse(null),
                  key.map(SigningKeys.Key::publicKeyPem).orElse(null),
                  audit.options().checkpointEvery(),
                  audit.options().checkpointInterval().toSeconds(),
                  head.seq(),
                  head.hash(),
                  audit.latestCheckpoint().orElse(null)));
        });
    r.post(
        "/api/v1/audit/verify",
        ADMIN,
        c -> {
          long from = c.query("from").isPresent() ? c.requiredPositive("from", "a seq") : 1;
          try {
            return Reply.ok(verifier.verify(from));
          } catch (IllegalArgumentException e) {
            throw ControllerException.invalid(e.getMessage());
          }
        });
    r.get(
        "/api/v1/audit/export",
        ADMIN,
        c -> {
          long since = since(c.query("since").orElse(null));
          long after = audit.firstSeqSince(since).map(s -> s - 1).orElse(Long.MAX_VALUE);
          return Reply.stream("application/x-ndjson", out -> export(after, out));
        });
  }

  private void export(long after, OutputStream out) throws IOException {
    long cursor = after;
    while (cursor != Long.MAX_VALUE) {
      List<AuditLog.ChainedEntry> page = audit.chained(cursor, EXPORT_PAGE);
      for (AuditLog.ChainedEntry e : page) {
        out.write(Json.write(AuditJson.entry(e)).getBytes(StandardCharsets.UTF_8));
        out.write('\n');
      }
      out.flush();
      if (page.size() < EXPORT_PAGE) {
        break;
      }
      cursor = page.getLast().seq();
    }
  }

  /**
   * {@code since}: absent for everything, a duration back from now ({@code 24h}, {@code 30m}) or an
   * ISO-8601 time ({@code 2026-12-01T00:00:00Z}).
   */
  private long since(String text) {
    if (text == null) {
      return Long.MIN_VALUE;
    }
    String t = text.strip();
    try {
      return Instant.parse(t).toEpochMilli();
    } catch (DateTimeParseException e) {
      // a duration, perhaps
    }
    try {
      Duration d = Durations.parse(t);
      return clock.millis() - d.toMillis();
    } catch (IllegalArgumentException e) {
      throw ControllerException.invalid(
          "since '"
              + (t.length() > 40 ? t.substring(0, 40) + "…" : t)
              + "' is neither a duration such as 24h nor a time such as 2026-12-01T00:00:00Z");
    }
  }

  private static Optional<String> filter(Call c, String name) {
    Optional<String> value = c.query(name).map(String::strip).filter(v -> !v.isEmpty());
    if (value.isPresent() && value.get().length() > MAX_FILTER) {
      throw ControllerException.invalid(
          name + " is longer than " + MAX_FILTER + " characters; use a shorter filter");
    }
    return value;
  }

  private static AuditLog.Position position(String text) {
    return AuditLog.Position.parse(text)
        .orElseThrow(
            () ->
                ControllerException.invalid(
                    "before '"
                        + (text.length() > 80 ? text.substring(0, 80) + "…" : text)
                        + "' is not a position in the audit log: pass the 'next' of the page"
                        + " before"));
  }
}
