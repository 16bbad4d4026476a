package io.edgefleet.controller.devices;

import io.edgefleet.protocol.DeviceFacts;
import java.time.Instant;
import java.util.Map;

/** A device as stored. {@code lifecycle} is what operators decided; presence is separate. */
public record DeviceRecord(
    String id,
    String name,
    String serial,
    Lifecycle lifecycle,
    String enrollmentCode,
    String keyFingerprint,
    String publicKeyPem,
    String certificatePem,
    String certificateSerial,
    String previousCertificateSerial,
    Instant certificateExpiresAt,
    Map<String, String> tags,
    DeviceFacts facts,
    String agentVersion,
    String onboardingTokenId,
    Instant createdAt,
    Instant enrolledAt,
    Instant decommissionedAt) {

  public enum Lifecycle {
    PENDING,
    ACTIVE,
    REJECTED,
    DECOMMISSIONED
  }
}
