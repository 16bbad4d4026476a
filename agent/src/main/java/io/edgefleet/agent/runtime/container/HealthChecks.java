package io.edgefleet.agent.runtime.container;

import io.edgefleet.protocol.workload.ContainerSpec.HealthCheck;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Runs containers' health checks and keeps their outcome. The agent checks rather than podman,
 * because podman schedules its checks with systemd timers, which a device may not have. A check is
 * run when the container's health is asked and its interval has passed since the last run; like
 * Docker's, a container is healthy after a passed check and unhealthy after {@code retries} failed
 * checks in a row, where failures within {@code startPeriod} of its start do not count.
 * Thread-safe.
 */
final class HealthChecks {
  /** Where a container's checks stand. */
  enum Status {
    STARTING,
    HEALTHY,
    UNHEALTHY
  }

  /** A container's status and, for a failing one, what the last check saw. */
  record Observation(Status status, String detail) {}

  /**
   * The running container checked: its id, when it started, and how to find its address (asked only
   * when an http or tcp check runs).
   */
  record Target(String id, Instant startedAt, java.util.function.Supplier<String> address) {}

  private static final int MAX_STATUS_LINE = 256;

  private final Podman podman;
  private final Clock clock;
  private final Map<String, State> states = new ConcurrentHashMap<>();

  HealthChecks(Podman podman, Clock clock) {
    this.podman = podman;
    this.clock = clock;
  }

  private static final class State {
    Instant lastRun;
    int failures;
    Status status = Status.STARTING;
    String detail = "health check not passed yet";
  }

  /** The container's health now, running its check first if it is due. */
  Observation observe(Target target, HealthCheck check) {
    // A restarted container starts over: its start time is part of the key.
    State s = states.computeIfAbsent(target.id() + "@" + target.startedAt(), k -> new State());
    synchronized (s) {
      Instant now = clock.instant();
      if (s.lastRun == null || !now.isBefore(s.lastRun.plus(check.interval()))) {
        s.lastRun = now;
        String failure = probe(target, check);
        if (failure == null) {
          s.failures = 0;
          s.status = Status.HEALTHY;
          s.detail = "healthy";
        } else if (now.isBefore(target.startedAt().plus(check.startPeriod()))) {
          s.detail = "starting: " + failure;
        } else {
          s.failures++;
          s.detail = failure;
          if (s.failures >= check.retries()) {
            s.status = Status.UNHEALTHY;
          }
        }
      }
      return new Observation(s.status, s.detail);
    }
  }

  /** Forgets containers that are gone. */
  void retain(Set<String> ids) {
    states.keySet().removeIf(k -> !ids.contains(k.substring(0, k.indexOf('@'))));
  }

  /** Runs the check once: null when it passed, else what failed. */
  private String probe(Target target, HealthCheck check) {
    if (!check.exec().isEmpty()) {
      List<String> args = new ArrayList<>(List.of("exec", target.id()));
      args.addAll(check.exec());
      try {
        Podman.Result r = podman.run(check.timeout().plusSeconds(5), args);
        return r.ok()
            ? null
            : "check " + String.join(" ", check.exec()) + " exited with code " + r.exit();
      } catch (PodmanException e) {
        return "check " + String.join(" ", check.exec()) + ": " + e.getMessage();
      }
    }
    int port = check.httpPort() != 0 ? check.httpPort() : check.tcpPort();
    String address = target.address().get();
    String where = address + ":" + port;
    int timeout = (int) Math.min(Integer.MAX_VALUE, check.timeout().toMillis());
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(address, port), timeout);
      if (check.httpPort() == 0) {
        return null;
      }
      socket.setSoTimeout(timeout);
      OutputStream out = socket.getOutputStream();
      out.write(
          ("GET "
                  + check.httpPath()
                  + " HTTP/1.0\r\nHost: "
                  + address
                  + "\r\nUser-Agent: edgefleet-agent\r\nConnection: close\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      String status = statusLine(socket.getInputStream());
      String[] parts = status.split(" ", 3);
      if (parts.length < 2 || !parts[0].startsWith("HTTP/") || !parts[1].matches("[0-9]{3}")) {
        return "GET http://" + where + check.httpPath() + " answered no HTTP status";
      }
      int code = Integer.parseInt(parts[1]);
      return code < 400 ? null : "GET http://" + where + check.httpPath() + " answered " + code;
    } catch (IOException e) {
      return (check.httpPort() != 0 ? "GET http://" + where + check.httpPath() : "connect " + where)
          + ": "
          + e.getMessage();
    }
  }

  private static String statusLine(InputStream in) throws IOException {
    StringBuilder line = new StringBuilder();
    int c;
    while ((c = in.read()) >= 0 && c != '\n' && line.length() < MAX_STATUS_LINE) {
      line.append((char) c);
    }
    return line.toString().strip();
  }
}
