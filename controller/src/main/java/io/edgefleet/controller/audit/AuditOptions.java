package io.edgefleet.controller.audit;

import java.net.URI;
import java.time.Duration;
import java.util.Optional;

/**
 * How the audit log is checkpointed and streamed.
 *
 * @param checkpointEvery a checkpoint is signed at least every this many entries
 * @param checkpointInterval and at least this often while entries are added
 * @param webhook where entries are POSTed as they are committed, if anywhere
 * @param syslog where entries are sent as RFC 5424 syslog messages, if anywhere
 * @param retention how long entries are kept at least; empty keeps them all. Older entries are
 *     deleted only up to a signed checkpoint and once every sink has taken them
 */
public record AuditOptions(
    int checkpointEvery,
    Duration checkpointInterval,
    Optional<URI> webhook,
    Optional<SyslogTarget> syslog,
    Optional<Duration> retention) {
  public static final int DEFAULT_CHECKPOINT_EVERY = 1000;
  public static final Duration DEFAULT_CHECKPOINT_INTERVAL = Duration.ofMinutes(10);

  public AuditOptions {
    if (checkpointEvery < 1 || checkpointEvery > 1_000_000) {
      throw new IllegalArgumentException(
          "a checkpoint every " + checkpointEvery + " entries: give 1 to 1000000");
    }
    if (checkpointInterval.toSeconds() < 1 || checkpointInterval.toDays() > 1) {
      throw new IllegalArgumentException(
          "a checkpoint interval of " + checkpointInterval + ": give 1s to 24h");
    }
    webhook.ifPresent(
        u -> {
          if (!"http".equals(u.getScheme()) && !"https".equals(u.getScheme())
              || u.getHost() == null) {
            throw new IllegalArgumentException(
                "audit webhook " + u + " is not an http:// or https:// URL with a host");
          }
        });
    retention = retention == null ? Optional.empty() : retention;
    retention.ifPresent(
        r -> {
          if (r.toDays() < 1) {
            throw new IllegalArgumentException(
                "an audit retention of " + r + ": give at least 1d, or none to keep every entry");
          }
        });
  }

  public static AuditOptions defaults() {
    return new AuditOptions(
        DEFAULT_CHECKPOINT_EVERY,
        DEFAULT_CHECKPOINT_INTERVAL,
        Optional.empty(),
        Optional.empty(),
        Optional.empty());
  }

  public AuditOptions withCheckpoints(int every, Duration interval) {
    return new AuditOptions(every, interval, webhook, syslog, retention);
  }

  public AuditOptions withWebhook(URI url) {
    return new AuditOptions(
        checkpointEvery, checkpointInterval, Optional.of(url), syslog, retention);
  }

  public AuditOptions withSyslog(SyslogTarget target) {
    return new AuditOptions(
        checkpointEvery, checkpointInterval, webhook, Optional.of(target), retention);
  }

  /** Entries are kept at least {@code keep}, then deleted (see {@link AuditRetention}). */
  public AuditOptions withRetention(Duration keep) {
    return new AuditOptions(
        checkpointEvery, checkpointInterval, webhook, syslog, Optional.of(keep));
  }

  /** The cursor names of the sinks configured: an entry is pruned only once all have it. */
  public java.util.List<String> sinkNames() {
    java.util.List<String> names = new java.util.ArrayList<>();
    webhook.ifPresent(w -> names.add(AuditSinks.WEBHOOK));
    syslog.ifPresent(s -> names.add(AuditSinks.SYSLOG));
    return names;
  }

  /**
   * A syslog receiver.
   *
   * @param udp UDP (one message per datagram) instead of TCP (octet-counted framing, RFC 6587)
   */
  public record SyslogTarget(String host, int port, boolean udp) {
    public SyslogTarget {
      if (host == null || host.isBlank() || port < 1 || port > 65535) {
        throw new IllegalArgumentException("a syslog receiver needs a host and a port 1..65535");
      }
    }

    /** Parses {@code [udp://|tcp://]host:port}; TCP when no scheme is given. */
    public static SyslogTarget parse(String text) {
      String rest = text.strip();
      boolean udp = false;
      if (rest.startsWith("udp://")) {
        udp = true;
        rest = rest.substring(6);
      } else if (rest.startsWith("tcp://")) {
        rest = rest.substring(6);
      }
      int colon = rest.lastIndexOf(':');
      if (colon <= 0) {
        throw new IllegalArgumentException(
            "syslog receiver '" + text + "' is not [udp://|tcp://]HOST:PORT");
      }
      int port;
      try {
        port = Integer.parseInt(rest.substring(colon + 1));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "syslog receiver '" + text + "' has no port number: give HOST:PORT, e.g. siem:6514");
      }
      return new SyslogTarget(rest.substring(0, colon).replaceAll("^\\[|\\]$", ""), port, udp);
    }
  }
}
