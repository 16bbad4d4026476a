package io.edgefleet.agent.runtime.container;

import io.edgefleet.agent.runtime.WorkloadRuntime.LogQuery;
import io.edgefleet.agent.runtime.WorkloadRuntime.LogSink;
import io.edgefleet.agent.runtime.WorkloadRuntime.LogStream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Reads one container's log with {@code podman logs --timestamps}: each line comes as {@code <RFC
 * 3339 time> <text>}; a line without a time is podman's own message, kept as the reason if podman
 * fails. Lines are limited in length so a runaway line cannot take the agent's memory.
 */
final class ContainerLogs {
  static final int MAX_LINE = 64 << 10;
  private static final int MAX_REASON = 2 << 10;

  private ContainerLogs() {}

  static List<String> args(String container, LogQuery query) {
    List<String> a = new ArrayList<>(List.of("logs", "--timestamps"));
    a.add("--tail");
    a.add(Integer.toString(query.tailLines()));
    if (query.since().isAfter(Instant.EPOCH)) {
      a.add("--since");
      a.add(query.since().toString());
    }
    if (query.follow()) {
      a.add("--follow");
    }
    a.add(container);
    return a;
  }

  static LogStream read(Podman podman, String container, LogQuery query, LogSink sink) {
    Process p = podman.start(args(container, query), true);
    AtomicBoolean closed = new AtomicBoolean();
    Thread.ofVirtual()
        .name("container-log-" + container)
        .start(
            () -> {
              StringBuilder reason = new StringBuilder();
              try (BufferedReader in =
                  new BufferedReader(
                      new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                  if (closed.get()) {
                    return;
                  }
                  int space = line.indexOf(' ');
                  Instant at = space > 0 ? time(line.substring(0, space)) : null;
                  if (at == null) {
                    if (reason.length() < MAX_REASON) {
                      reason.append(reason.isEmpty() ? "" : " ").append(line.strip());
                    }
                    continue;
                  }
                  String text = line.substring(space + 1);
                  sink.line(at, text.length() > MAX_LINE ? text.substring(0, MAX_LINE) : text);
                }
                int exit = p.waitFor();
                if (closed.compareAndSet(false, true)) {
                  if (exit == 0) {
                    sink.completed();
                  } else {
                    String r = reason.toString().replaceFirst("^Error: ", "");
                    sink.failed(r.isEmpty() ? "podman logs exited with code " + exit : r);
                  }
                }
              } catch (IOException e) {
                if (closed.compareAndSet(false, true)) {
                  sink.failed("the log of " + container + " could not be read: " + e.getMessage());
                }
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    return () -> {
      closed.set(true);
      p.destroyForcibly();
    };
  }

  private static Instant time(String s) {
    if (s.length() < 20 || !Character.isDigit(s.charAt(0))) {
      return null;
    }
    try {
      return java.time.OffsetDateTime.parse(s).toInstant();
    } catch (DateTimeParseException e) {
      return null;
    }
  }
}
