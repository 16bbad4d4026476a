package io.edgefleet.controller.devices;

import io.edgefleet.protocol.DeviceFacts;
import java.time.Instant;
import java.util.Map;

/**
 * A device as the API shows it: stored facts plus status derived from presence and health, with the
 * reason and since when the device has been in that status, and its identity ({@code tpm} or {@code
 * software}) and trust. {@code connectedTo} names the controller replica that holds the device's
 * connection (null when none does): with several replicas, where its sessions go.
 */
public record DeviceView(
    String id,
    String name,
    String serial,
    Map<String, String> tags,
    DeviceStatus status,
    String statusReason,
    Instant statusSince,
    Instant lastSeen,
    String agentVersion,
    DeviceFacts facts,
    String enrollmentCode,
    Instant createdAt,
    Instant enrolledAt,
    Instant certificateExpiresAt,
    String identity,
    DeviceTrustView trust,
    String connectedTo) {

  /** A view of a device with a software key. */
  public DeviceView(
      String id,
      String name,
      String serial,
      Map<String, String> tags,
      DeviceStatus status,
      String statusReason,
      Instant statusSince,
      Instant lastSeen,
      String agentVersion,
      DeviceFacts facts,
      String enrollmentCode,
      Instant createdAt,
      Instant enrolledAt,
      Instant certificateExpiresAt) {
    this(
        id,
        name,
        serial,
        tags,
        status,
        statusReason,
        statusSince,
        lastSeen,
        agentVersion,
        facts,
        enrollmentCode,
        createdAt,
        enrolledAt,
        certificateExpiresAt,
        DeviceTrustView.SOFTWARE,
        DeviceTrustView.SOFTWARE_KEY,
        null);
  }
}
