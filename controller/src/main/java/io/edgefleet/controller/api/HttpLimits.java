package io.edgefleet.controller.api;

import java.time.Duration;

/**
 * What one client may make the HTTPS listener spend: bytes, time and connections. Every limit
 * applies before authentication, so an anonymous client cannot hold more than these.
 *
 * @param maxApiBody the largest request body of an operator route, in bytes (a route may allow
 *     more, such as a catalog push)
 * @param maxDeviceBody the largest request body of a device route (under {@code /device/}), bytes
 * @param headerTimeout how long a new connection has for its TLS handshake and its first request's
 *     headers together; absolute, not reset by each byte
 * @param idleTimeout how long a kept-alive connection may wait after an answer until the next
 *     request's headers are complete
 * @param bodyTimeout the time any request body may take at least
 * @param minBodyRate bytes per second a large body must sustain on average: a body of {@code n}
 *     bytes may take {@code bodyTimeout + n / minBodyRate}
 * @param maxConnections open connections in all, agents' WebSockets included; above it the listener
 *     stops accepting until one closes
 * @param maxConnectionsPerAddress connections from one source address that are not agents'
 *     WebSockets (in their handshake, sending a request or kept alive between requests); one more
 *     is closed at once
 */
public record HttpLimits(
    int maxApiBody,
    int maxDeviceBody,
    Duration headerTimeout,
    Duration idleTimeout,
    Duration bodyTimeout,
    int minBodyRate,
    int maxConnections,
    int maxConnectionsPerAddress) {

  /** File descriptors kept free for the database, Git, Helm and log files. */
  static final int RESERVED_DESCRIPTORS = 512;

  public HttpLimits {
    if (maxApiBody < 1 || maxDeviceBody < 1) {
      throw new IllegalArgumentException("body limits must be positive");
    }
    for (Duration d : new Duration[] {headerTimeout, idleTimeout, bodyTimeout}) {
      if (d == null || d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException("HTTP timeouts must be positive");
      }
    }
    if (minBodyRate < 1 || maxConnections < 1 || maxConnectionsPerAddress < 1) {
      throw new IllegalArgumentException("rates and connection limits must be positive");
    }
  }

  /**
   * The defaults: 1 MiB API and 64 KiB device bodies, 20 s for handshake and headers (a 250 kbit/s
   * satellite link with 600 ms round trips needs about 3 s), 30 s between kept-alive requests, 30 s
   * plus 16 KiB/s for a body, 1,024 non-WebSocket connections per source address, and as many
   * connections in all as the process may open files, less {@value #RESERVED_DESCRIPTORS}.
   */
  public static HttpLimits defaults() {
    return new HttpLimits(
        1024 * 1024,
        64 * 1024,
        Duration.ofSeconds(20),
        Duration.ofSeconds(30),
        Duration.ofSeconds(30),
        16 * 1024,
        Math.max(256, (int) Math.min(Integer.MAX_VALUE, openFilesLimit() - RESERVED_DESCRIPTORS)),
        1024);
  }

  public HttpLimits withTimeouts(Duration header, Duration idle, Duration body) {
    return new HttpLimits(
        maxApiBody,
        maxDeviceBody,
        header,
        idle,
        body,
        minBodyRate,
        maxConnections,
        maxConnectionsPerAddress);
  }

  public HttpLimits withConnections(int total, int perAddress) {
    return new HttpLimits(
        maxApiBody,
        maxDeviceBody,
        headerTimeout,
        idleTimeout,
        bodyTimeout,
        minBodyRate,
        total,
        perAddress);
  }

  /** The longest a body of {@code length} bytes may take to arrive. */
  Duration bodyDeadline(long length) {
    return bodyTimeout.plusMillis(Math.max(0, length) * 1000 / minBodyRate);
  }

  /** This process's limit of open files, or 4,096 when the platform does not say. */
  static long openFilesLimit() {
    if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.UnixOperatingSystemMXBean unix) {
      return unix.getMaxFileDescriptorCount();
    }
    return 4096;
  }
}
