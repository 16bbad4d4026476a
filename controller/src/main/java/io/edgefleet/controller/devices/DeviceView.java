package io.edgefleet.controller.devices;

import io.edgefleet.protocol.DeviceFacts;
import java.time.Instant;
import java.util.Map;

/** A device as the API shows it: stored facts plus status derived from presence. */
public record DeviceView(
    String id,
    String name,
    String serial,
    Map<String, String> tags,
    DeviceStatus status,
    String statusReason,
    Instant lastSeen,
    String agentVersion,
    DeviceFacts facts,
    String enrollmentCode,
    Instant createdAt,
    Instant enrolledAt,
    Instant certificateExpiresAt) {}
