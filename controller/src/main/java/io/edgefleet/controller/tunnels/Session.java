package io.edgefleet.controller.tunnels;

import java.time.Instant;

/**
 * One tunnel session as the API shows it.
 *
 * @param detail what the stream reached, e.g. {@code GET /api/v1/pods} or {@code 127.0.0.1:8080}
 * @param bytesIn bytes from the device
 * @param bytesOut bytes to the device
 * @param endedAt null while it runs
 * @param endReason {@code closed} for a clean end, otherwise why it ended (e.g. {@code link lost:
 *     ...}); null while it runs
 */
public record Session(
    String id,
    String device,
    String kind,
    String actor,
    String detail,
    Instant startedAt,
    Instant endedAt,
    long bytesIn,
    long bytesOut,
    String endReason) {}
