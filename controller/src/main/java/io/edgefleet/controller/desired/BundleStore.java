package io.edgefleet.controller.desired;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/** Immutable, content-addressed bundles. Storing the same content twice is a no-op. */
public final class BundleStore {
  private final Jdbi jdbi;
  private final Clock clock;

  public BundleStore(Jdbi jdbi, Clock clock) {
    this.jdbi = jdbi;
    this.clock = clock;
  }

  public void put(Handle h, String digest, String content) {
    h.createUpdate(
            "INSERT INTO bundles (digest, content, size, created_at) VALUES (:d, :c, :s, :now)"
                + " ON CONFLICT (digest) DO NOTHING")
        .bind("d", digest)
        .bind("c", content)
        .bind("s", (long) content.getBytes(StandardCharsets.UTF_8).length)
        .bind("now", clock.millis())
        .execute();
  }

  public Optional<String> get(String digest) {
    return jdbi.withHandle(
        h ->
            h.createQuery("SELECT content FROM bundles WHERE digest = :d")
                .bind("d", digest)
                .mapTo(String.class)
                .findOne());
  }
}
