package io.edgefleet.agent.airgap;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.AgentFeature;
import io.edgefleet.device.desiredstate.Refused;
import io.edgefleet.protocol.AgentMessage;
import io.edgefleet.protocol.ControllerMessage;
import io.edgefleet.protocol.ExportManifest;
import io.edgefleet.protocol.SecureFiles;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Imports export bundles while the agent runs: it watches the agent's own inbox ({@code
 * <state>/import/}, where {@code edgefleet-agent import} hands a file to a running agent) and any
 * directories given (a USB stick's mount point), and imports each new {@code *.efb} once. A file is
 * taken only once its size and modification time held still between two scans, so a copy still
 * under way is not read half-written. Files in the inbox are deleted once read; files elsewhere are
 * left alone and remembered ({@code <state>/airgap/seen}) so they are not read again.
 *
 * <p>It holds a lock on {@code <state>/airgap/agent.lock} while it runs, which tells {@code
 * edgefleet-agent import} that an agent runs on the state directory. When the agent connects it
 * sends the imports not reported yet ({@link ImportReports}) as {@link AgentMessage.Event}s of kind
 * {@link AgentMessage.Event#IMPORT}. Thread-safe: scans run on the scheduler, one at a time.
 */
public final class ImportFeature implements AgentFeature {
  /** Files a scan looks at per directory, so a stick full of files cannot stall the agent. */
  static final int MAX_FILES_PER_SCAN = 100;

  private static final int MAX_SEEN = 1000;

  private final Agent agent;
  private final BundleImporter importer;
  private final List<Path> watched;
  private final Path inbox;
  private final ImportReports reports;
  private final ScheduledExecutorService scheduler;
  private final Duration every;
  private final Clock clock;
  private final PrintStream out;
  private final Path seenFile;

  // Used on the scheduler only.
  private final Map<Path, String> candidates = new HashMap<>();
  private final Set<String> seen = new LinkedHashSet<>();

  private volatile AgentFeature.Channel channel;
  private FileChannel lockFile;
  private FileLock lock;
  private ScheduledFuture<?> scans;

  /**
   * @param watched directories to watch besides the inbox (may not exist yet: a stick not inserted)
   * @param every how often the directories are scanned
   */
  public ImportFeature(
      Agent agent,
      BundleImporter importer,
      List<Path> watched,
      ScheduledExecutorService scheduler,
      Duration every,
      Clock clock,
      PrintStream out) {
    this.agent = agent;
    this.importer = importer;
    this.inbox = inbox(agent.stateDir());
    List<Path> all = new ArrayList<>();
    all.add(inbox);
    all.addAll(watched);
    this.watched = List.copyOf(all);
    this.reports = new ImportReports(agent.stateDir());
    this.scheduler = scheduler;
    this.every = every;
    this.clock = clock;
    this.out = out;
    this.seenFile = agent.stateDir().resolve("airgap").resolve("seen");
  }

  /** Where {@code edgefleet-agent import} hands files to a running agent. */
  public static Path inbox(Path stateDir) {
    return stateDir.resolve("import");
  }

  /** The lock a running agent holds on its state directory. */
  public static Path lockFile(Path stateDir) {
    return stateDir.resolve("airgap").resolve("agent.lock");
  }

  /**
   * Takes the lock and starts watching.
   *
   * @throws IllegalStateException if another agent holds the lock on this state directory
   */
  public synchronized void start() {
    SecureFiles.createPrivateDirectories(inbox);
    SecureFiles.createPrivateDirectories(seenFile.getParent());
    try {
      lockFile =
          FileChannel.open(
              lockFile(agent.stateDir()), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      lock = lockFile.tryLock();
      if (lock == null) {
        lockFile.close();
        throw new IllegalStateException(
            "another agent runs on " + agent.stateDir() + ": stop it first");
      }
      if (Files.exists(seenFile)) {
        seen.addAll(Files.readAllLines(seenFile));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    scans =
        scheduler.scheduleWithFixedDelay(this::scan, 0, every.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** One pass over the watched directories; public for tests that drive it. */
  public synchronized void scan() {
    try {
      for (Path dir : watched) {
        for (Path f : bundles(dir)) {
          String key = key(f);
          if (key == null || seen.contains(key)) {
            continue;
          }
          if (!key.equals(candidates.put(f, key))) {
            // First sight or still changing: taken at the next scan if it holds still.
            continue;
          }
          candidates.remove(f);
          importFile(f);
          remember(key);
          if (f.startsWith(inbox)) {
            Files.deleteIfExists(f);
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      out.println("import watch: " + e.getMessage());
    }
  }

  /**
   * Imports one file into the running agent.
   *
   * @return what was imported, or empty if it was refused (the refusal is printed and recorded as
   *     an event)
   */
  public Optional<BundleImporter.Imported> importFile(Path file) {
    BundleImporter.Imported[] got = new BundleImporter.Imported[1];
    try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 64 * 1024)) {
      agent.importDocument(importer.from(in, i -> got[0] = i));
      String summary = got[0].summary() + " from " + file.getFileName();
      out.println(summary);
      reports.add(new ImportReports.Report(summary, clock.instant()));
      send();
      return Optional.of(got[0]);
    } catch (Refused r) {
      String message = file.getFileName() + ": " + r.getMessage();
      out.println(message);
      agent.event(r.kind(), "error", null, message);
      return Optional.empty();
    } catch (IOException | UncheckedIOException e) {
      String message =
          file.getFileName() + ": the export bundle could not be read: " + e.getMessage();
      out.println(message);
      agent.event("import-failed", "error", null, message);
      return Optional.empty();
    }
  }

  private List<Path> bundles(Path dir) throws IOException {
    List<Path> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return out;
    }
    try (DirectoryStream<Path> files =
        Files.newDirectoryStream(dir, "*" + ExportManifest.EXTENSION)) {
      for (Path f : files) {
        if (Files.isRegularFile(f)) {
          out.add(f);
        }
        if (out.size() >= MAX_FILES_PER_SCAN) {
          break;
        }
      }
    }
    out.sort(null);
    return out;
  }

  private static String key(Path f) {
    try {
      return f.toAbsolutePath()
          + "|"
          + Files.size(f)
          + "|"
          + Files.getLastModifiedTime(f).toMillis();
    } catch (IOException e) {
      return null;
    }
  }

  private void remember(String key) throws IOException {
    seen.add(key);
    while (seen.size() > MAX_SEEN) {
      seen.remove(seen.iterator().next());
    }
    SecureFiles.writeSecret(seenFile, String.join("\n", seen) + "\n");
  }

  /** Sends the imports not reported yet, if connected. */
  private void send() {
    AgentFeature.Channel c = channel;
    if (c == null) {
      return;
    }
    synchronized (reports) {
      sendTo(c);
    }
  }

  private void sendTo(AgentFeature.Channel c) {
    List<ImportReports.Report> sent = new ArrayList<>();
    for (ImportReports.Report r : reports.list()) {
      if (!c.send(new AgentMessage.Event(AgentMessage.Event.IMPORT, r.message(), r.at()))) {
        break;
      }
      sent.add(r);
    }
    if (!sent.isEmpty()) {
      reports.sent(sent);
    }
  }

  @Override
  public void connected(AgentFeature.Channel c, ControllerMessage.Welcome welcome) {
    channel = c;
    send();
  }

  @Override
  public void disconnected() {
    channel = null;
  }

  @Override
  public boolean handle(ControllerMessage message) {
    return false;
  }

  @Override
  public synchronized void close() {
    if (scans != null) {
      scans.cancel(false);
    }
    try {
      if (lock != null) {
        lock.release();
      }
      if (lockFile != null) {
        lockFile.close();
      }
    } catch (IOException e) {
      // The lock goes with the process anyway.
    }
  }
}
