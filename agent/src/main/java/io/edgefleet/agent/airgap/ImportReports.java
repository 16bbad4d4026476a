package io.edgefleet.agent.airgap;

import io.edgefleet.protocol.SecureFiles;
import io.edgefleet.protocol.json.JsonCodec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Imports the controller has not heard of yet, in {@code <state>/airgap/reports.json}, so that a
 * device imported while the agent was stopped or offline says so when it next connects. At most
 * {@value #MAX} are kept (the oldest go first). Thread-safe within one process; the file is written
 * atomically.
 */
public final class ImportReports {
  static final int MAX = 50;

  /** One import to report. */
  public record Report(String message, Instant at) {}

  record Stored(List<Report> reports) {}

  private final Path file;

  public ImportReports(Path stateDir) {
    this.file = stateDir.resolve("airgap").resolve("reports.json");
  }

  /** Adds a report to send. */
  public synchronized void add(Report r) {
    List<Report> all = new ArrayList<>(list());
    all.add(r);
    while (all.size() > MAX) {
      all.removeFirst();
    }
    save(all);
  }

  /** The reports not sent yet, oldest first; empty if none or the file is unreadable. */
  public synchronized List<Report> list() {
    if (!Files.exists(file)) {
      return List.of();
    }
    try {
      Stored s = JsonCodec.read(Files.readString(file), Stored.class);
      return s == null || s.reports() == null ? List.of() : s.reports();
    } catch (IOException | RuntimeException e) {
      return List.of();
    }
  }

  /** Removes the reports that were sent. */
  public synchronized void sent(List<Report> sent) {
    List<Report> left = new ArrayList<>(list());
    left.removeAll(sent);
    save(left);
  }

  private void save(List<Report> reports) {
    SecureFiles.createPrivateDirectories(file.getParent());
    SecureFiles.writeSecret(file, JsonCodec.write(new Stored(reports)) + "\n");
  }
}
