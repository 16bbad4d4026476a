package io.edgefleet.protocol;

/** Paths and WebSocket close codes of the agent-facing protocol ({@code /device/v1}). */
public final class DeviceApi {
  public static final String ENROLLMENTS = "/device/v1/enrollments";
  public static final String CONNECT = "/device/v1/connect";
  public static final String RENEWALS = "/device/v1/renewals";
  public static final String DESIRED = "/device/v1/desired";
  public static final String BUNDLES = "/device/v1/bundles/";
  public static final String SIGNING_KEY = "/device/v1/signing-key";

  /**
   * {@code GET /device/v1/secrets/{name}?version=N}: one secret of the device's desired state,
   * sealed to the device's own key ({@link DeviceSecret}).
   */
  public static final String SECRETS = "/device/v1/secrets/";

  /**
   * {@code GET /device/v1/artifacts/{digest}}: a content-addressed artifact ({@code sha256:<hex>}),
   * e.g. a K3s binary; honours {@code Range: bytes=N-} so a cut download resumes where it stopped.
   */
  public static final String ARTIFACTS = "/device/v1/artifacts/";

  /**
   * {@code GET /device/v1/artifacts/{digest}/chunks}: the artifact's {@link ArtifactChunks}, the
   * digest of each fixed-size chunk, so that a device verifies (and re-fetches) chunk by chunk.
   */
  public static final String CHUNKS_SUFFIX = "/chunks";

  /**
   * {@code GET /device/v1/clusters/{name}/token?version=N}: the join token of a cluster the device
   * is a member of, as a {@link DeviceSecret} sealed to the device's own key whose plaintext JSON
   * holds the key {@code token} (base64 of the UTF-8 token, like every secret value).
   */
  public static final String CLUSTERS = "/device/v1/clusters/";

  /** Normal close because the controller is shutting down; reconnect with backoff. */
  public static final int CLOSE_GOING_AWAY = 1001;

  /** The device has been decommissioned or its certificate revoked: back off for long. */
  public static final int CLOSE_REVOKED = 4003;

  /** A newer connection of the same device replaced this one. */
  public static final int CLOSE_REPLACED = 4009;

  /** The peer sent something it must not; the reason says what. */
  public static final int CLOSE_PROTOCOL_ERROR = 4400;

  private DeviceApi() {}
}
