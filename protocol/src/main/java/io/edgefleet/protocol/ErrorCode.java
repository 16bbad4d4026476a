package io.edgefleet.protocol;

/**
 * Stable error codes shared by the controller, the agent and the CLI. The HTTP status of each code
 * is defined here and nowhere else. Codes never change meaning once published.
 */
public enum ErrorCode {
  BAD_REQUEST(400, false),
  INVALID_JSON(400, false),
  VALIDATION_FAILED(422, false),
  BODY_TOO_LARGE(413, false),
  REQUEST_TIMEOUT(408, true),
  RATE_LIMITED(429, true),
  UNSUPPORTED_MEDIA_TYPE(415, false),
  UNAUTHENTICATED(401, false),
  FORBIDDEN(403, false),
  NOT_FOUND(404, false),
  ROUTE_NOT_FOUND(404, false),
  METHOD_NOT_ALLOWED(405, false),
  CONFLICT(409, false),
  ONBOARDING_TOKEN_INVALID(401, false),
  ONBOARDING_TOKEN_EXPIRED(403, false),
  ONBOARDING_TOKEN_USED_UP(403, false),
  ONBOARDING_TOKEN_REVOKED(403, false),
  ENROLLMENT_CREDENTIAL_MISSING(401, false),
  ENROLLMENT_REJECTED(403, false),
  INVALID_CSR(400, false),
  CLIENT_CERTIFICATE_REQUIRED(401, false),
  DEVICE_UNKNOWN(403, false),
  DEVICE_DECOMMISSIONED(403, false),
  DEVICE_NOT_ENROLLED(409, false),
  DEVICE_NOT_CONNECTED(409, true),
  APP_VERSION_EXISTS(409, false),
  CATALOG_CONTENT_INVALID(422, false),
  ROLLOUT_POLICY_INVALID(422, false),
  ROLLOUT_STATE_CONFLICT(409, false),
  GENERATION_OUT_OF_RANGE(409, false),
  SIGNING_KEY_STATE_CONFLICT(409, false),
  DEVICE_NAME_INVALID(422, false),
  DEVICE_NAME_TAKEN(409, false),
  PREFLIGHT_FAILED(422, false),
  TARGET_MATCHES_NOTHING(422, false),
  GIT_REMOTE_UNREACHABLE(422, false),
  TOO_MANY_STREAMS(429, true),
  /** The onboarding credential admits only devices whose key lives in a TPM. */
  TPM_REQUIRED(403, false),
  /** The TPM evidence did not verify (EK chain, AK, activated credential, key proof, quote). */
  TPM_UNTRUSTED(403, false),
  /** The device is quarantined: its measured boot differs from its reference. */
  DEVICE_QUARANTINED(403, false),
  SECRET_EXISTS(409, false),
  SECRET_TOO_LARGE(413, false),
  SECRET_LIMIT_REACHED(409, false),
  SECRET_NOT_TARGETED(403, false),
  SECRET_VERSION_GONE(409, false),
  SECRET_DELIVERY_REFUSED(403, false),
  /** A cluster of that name exists already. */
  CLUSTER_EXISTS(409, false),
  /** The cluster's shape cannot work (e.g. an even or zero server count, min above max). */
  CLUSTER_SHAPE_INVALID(422, false),
  /** The device is not a member of the cluster it asked about. */
  CLUSTER_NOT_MEMBER(403, false),
  /** A profile version is immutable once published. */
  PROFILE_VERSION_EXISTS(409, false),
  /** A profile layer cannot be used (unknown app or version, invalid Kubernetes configuration). */
  PROFILE_LAYER_INVALID(422, false),
  /** An artifact is larger than the controller accepts. */
  ARTIFACT_TOO_LARGE(413, false),
  /** An artifact's content does not match the digest it was announced with. */
  ARTIFACT_DIGEST_MISMATCH(422, false),
  /** An agent release's signature does not verify, or the file does not match what it signs. */
  AGENT_RELEASE_SIGNATURE_INVALID(422, false),
  /** An agent release is signed by a key the controller does not trust. */
  AGENT_RELEASE_KEY_UNTRUSTED(422, false),
  /** An agent release file is not a well-formed release (links, bad paths, no release.json). */
  AGENT_RELEASE_MALFORMED(422, false),
  /** That version of the agent is already stored for that architecture. */
  AGENT_RELEASE_EXISTS(409, false),
  /** No such agent release. */
  AGENT_RELEASE_NOT_FOUND(404, false),
  /** The agent release is in use by a rollout or a device's desired state. */
  AGENT_RELEASE_IN_USE(409, false),
  /** The operator's role (or token scopes) lacks the permission the call needs. */
  PERMISSION_DENIED(403, false),
  /** The operator's API token has expired: log in again. */
  TOKEN_EXPIRED(401, false),
  /** The device has as many tunnel streams open as it may (16). */
  TUNNEL_LIMIT(429, true),
  /** The device does not offer that kind of tunnel, or its configuration does not allow it. */
  TUNNEL_REFUSED(403, false),
  /** A tunnel stream used up its byte budget. */
  TUNNEL_BUDGET_EXCEEDED(413, false),
  /** A tunnel stream carried nothing for longer than its idle timeout. */
  TUNNEL_IDLE_TIMEOUT(408, true),
  /**
   * The tunnel's target on the device (a host and port, the local API server) cannot be reached.
   */
  TUNNEL_TARGET_UNREACHABLE(502, true),
  /** The peer broke the tunnel protocol (more data than the window, a malformed frame). */
  TUNNEL_PROTOCOL_ERROR(400, false),
  /** The operator's end of a tunnel went away before the device's end was done. */
  TUNNEL_CLOSED(409, false),
  /** The device's connection to the controller ended while the stream was open. */
  DEVICE_DISCONNECTED(503, true),
  /** Single sign-on is not configured on this controller. */
  SSO_NOT_CONFIGURED(404, false),
  /** An identity provider's ID token was refused; the message says why. */
  SSO_TOKEN_INVALID(401, false),
  /** The person signed in, but none of their groups maps to a role. */
  SSO_NO_ROLE(403, false),
  /** A sign-in could not be completed (unknown or expired state, a refused code): start again. */
  SSO_LOGIN_FAILED(400, false),
  /** The identity provider could not be reached, or answered what is not OpenID Connect. */
  SSO_PROVIDER_UNAVAILABLE(503, true),
  /** The device's own configuration does not allow a remote shell (agent option --allow-shell). */
  SHELL_DISABLED(403, false),
  /** No shell grant of the caller's roles covers the device now. */
  SHELL_NOT_GRANTED(403, false),
  /** The grant needs a second person's approval, and no approved request covers the session. */
  SHELL_APPROVAL_REQUIRED(403, false),
  /** A shell request cannot be approved by the person who made it. */
  SHELL_SELF_APPROVAL(403, false),
  /** A shell request is not pending any more (approved, expired or used). */
  SHELL_REQUEST_STATE_CONFLICT(409, false),
  /**
   * The device's own configuration does not allow copying files (agent option --allow-file-copy).
   */
  FILE_COPY_DISABLED(403, false),
  /** The path names a directory, a device, a socket or anything else than a regular file. */
  FILE_NOT_REGULAR(422, false),
  /** The agent cannot read the file (permissions). */
  FILE_UNREADABLE(403, false),
  /** The file is larger than the copy's byte budget. */
  FILE_TOO_LARGE(413, false),
  /**
   * The caller holds roles in several projects and did not say which one a new object belongs to
   * ({@code ?project=} or a {@code project} field).
   */
  PROJECT_REQUIRED(400, false),
  /** An image registry cannot be reached (DNS, connection, TLS, timeout, a 5xx answer). */
  REGISTRY_UNREACHABLE(502, true),
  /** The registry has no such repository, tag, manifest or platform. */
  REGISTRY_NOT_FOUND(404, false),
  /** The registry refused the controller's credentials (or their absence). */
  REGISTRY_UNAUTHORIZED(502, false),
  /** What the registry sent does not match its digest: nothing is stored. */
  REGISTRY_DIGEST_MISMATCH(502, false),
  /** The registry answered something that is not the distribution API (a malformed manifest). */
  REGISTRY_RESPONSE_INVALID(502, false),
  /** The registry holds a kind of manifest, config or layer the controller does not mirror. */
  IMAGE_MEDIA_TYPE_UNSUPPORTED(422, false),
  /**
   * A download policy cannot be used: a bad name, selector, window ({@code HH:MM-HH:MM}), time
   * zone, byte budget or priority; the message names the field.
   */
  DOWNLOAD_POLICY_INVALID(422, false),
  /** No download policy of that name exists. */
  DOWNLOAD_POLICY_NOT_FOUND(404, false),
  /**
   * An app's documents are not one kind of workload (Kubernetes objects, {@code Container}s and
   * {@code VirtualMachine}s mixed), a workload document is invalid, or an image is named by tag:
   * the message names the documents and fields.
   */
  WORKLOAD_INVALID(422, false),
  /**
   * A workload names a blob the controller does not hold: an image or disk digest not in the
   * artifact store, or a registry image not mirrored for the device's architecture; the message
   * says what to push or mirror.
   */
  WORKLOAD_ARTIFACT_MISSING(422, false),
  /** No device an export selects has a desired state to export. */
  EXPORT_NO_DEVICES(422, false),
  /** An export would hold more devices or bytes than the controller's limit. */
  EXPORT_TOO_LARGE(413, false),
  /** Something an exported document needs (a bundle, an artifact's bytes) is missing. */
  EXPORT_INCOMPLETE(409, false),
  UNAVAILABLE(503, true),
  INTERNAL(500, true);

  private final int httpStatus;
  private final boolean retryable;

  ErrorCode(int httpStatus, boolean retryable) {
    this.httpStatus = httpStatus;
    this.retryable = retryable;
  }

  public int httpStatus() {
    return httpStatus;
  }

  /** Whether the same request may succeed later without any change by the caller. */
  public boolean retryable() {
    return retryable;
  }

  /**
   * Parses a code received from a peer; unknown codes from newer peers map to {@link #INTERNAL}.
   */
  public static ErrorCode parse(String code) {
    if (code == null) {
      return INTERNAL;
    }
    try {
      return valueOf(code);
    } catch (IllegalArgumentException e) {
      return INTERNAL;
    }
  }
}
