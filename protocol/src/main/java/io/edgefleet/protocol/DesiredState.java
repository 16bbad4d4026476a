package io.edgefleet.protocol;

import java.time.Instant;
import java.util.List;

/**
 * What one device should run. Generations strictly increase per device; an agent refuses a document
 * whose generation is not above the one it holds (replay, downgrade).
 */
public record DesiredState(
    String deviceId, long generation, Instant issuedAt, List<DesiredApp> apps) {
  public DesiredState {
    apps = apps == null ? List.of() : List.copyOf(apps);
  }

  /**
   * One application: its manifests are the content-addressed bundle {@code bundle} ({@code
   * sha256:<hex>} of the UTF-8 bytes), fetched once from {@code /device/v1/bundles/}.
   */
  public record DesiredApp(String name, String source, String revision, String bundle, long size) {}
}
