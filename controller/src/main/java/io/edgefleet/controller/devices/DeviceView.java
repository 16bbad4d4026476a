package io.edgefleet.controller.devices;

import io.edgefleet.protocol.DeviceFacts;
import java.time.Instant;
import java.util.Map;

/**
 * A device as the API shows it: stored facts plus status derived from presence and health, with the
 * reason and since when the device has been in that status.
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
    Instant certificateExpiresAt) {}
