package io.edgefleet.protocol;

import java.time.Instant;
import java.util.List;

/**
 * What one device should run. Generations strictly increase per device; an agent refuses a document
 * whose generation is not above the one it holds (replay, downgrade).
 */
public record DesiredState(
    String deviceId, long generation, Instant issuedAt, List<DesiredApp> apps) {
  /**
   * The largest generation a controller issues: 2^53 - 1, the largest integer every JSON reader
   * keeps exact. Generations grow by one per change, so no device comes near it in practice; a
   * claim above it is refused instead of wrapping around.
   */
  public static final long MAX_GENERATION = (1L << 53) - 1;

  public DesiredState {
    apps = apps == null ? List.of() : List.copyOf(apps);
  }

  /**
   * One application: its manifests are the content-addressed bundle {@code bundle} ({@code
   * sha256:<hex>} of the UTF-8 bytes), fetched once from {@code /device/v1/bundles/}.
   */
  public record DesiredApp(String name, String source, String revision, String bundle, long size) {}
}
