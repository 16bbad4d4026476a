package io.edgefleet.agent.command;

import io.edgefleet.agent.Agent;
import io.edgefleet.agent.airgap.BundleImporter;
import io.edgefleet.agent.airgap.ImportFeature;
import io.edgefleet.agent.airgap.ImportReports;
import io.edgefleet.agent.artifacts.BlobCache;
import io.edgefleet.agent.desiredstate.DesiredStateStore;
import io.edgefleet.device.desiredstate.Refused;
import io.edgefleet.protocol.ExportManifest;
import io.edgefleet.protocol.SecureFiles;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code edgefleet agent import FILE}: imports an export bundle. With the agent stopped it verifies
 * and takes the bundle into the state directory itself, exactly as the running agent would, and the
 * agent runs it when it starts; with the agent running (it holds the state directory's lock) it
 * hands the file to the agent's inbox, which the agent imports within seconds.
 */
@Command(
    name = "import",
    description =
        "Import an export bundle (.efb) written by `edgefleet export`: the device runs its desired"
            + " state without a link to the controller.",
    mixinStandardHelpOptions = true)
final class ImportCommand implements Callable<Integer> {
  @ParentCommand AgentCommand parent;

  @Parameters(paramLabel = "FILE", description = "The export bundle.")
  Path file;

  @Option(
      names = "--state",
      paramLabel = "DIR",
      description = "The agent's state directory (default: the agent's, ~/.edgefleet/agent).")
  Path state;

  @Override
  public Integer call() {
    Path dir = state != null ? state : parent.state;
    if (!Files.isRegularFile(file)) {
      System.err.println("error: " + file + " is not a file");
      return 2;
    }
    if (!Files.isDirectory(dir)) {
      System.err.println(
          "error: " + dir + " is not an agent state directory; pass the agent's --state");
      return 2;
    }
    Path lockPath = ImportFeature.lockFile(dir);
    try {
      SecureFiles.createPrivateDirectories(lockPath.getParent());
      try (FileChannel channel =
          FileChannel.open(lockPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
        FileLock lock;
        try {
          lock = channel.tryLock();
        } catch (java.nio.channels.OverlappingFileLockException e) {
          // The agent runs in this very JVM (embedded, or a test).
          lock = null;
        }
        if (lock == null) {
          return handOver(dir);
        }
        try {
          return importStopped(dir);
        } finally {
          lock.release();
        }
      }
    } catch (IOException | UncheckedIOException e) {
      System.err.println("error: " + e.getMessage());
      return 1;
    }
  }

  /** The agent is stopped: verify and take the bundle into its state directory. */
  private int importStopped(Path dir) throws IOException {
    BundleImporter importer =
        new BundleImporter(
            new DesiredStateStore(dir),
            BlobCache.open(dir, BlobCache.DEFAULT_RESERVE_BYTES),
            BundleImporter.Limits.defaults());
    BundleImporter.Imported[] got = new BundleImporter.Imported[1];
    try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 64 * 1024)) {
      Agent.importStopped(dir, importer.from(in, i -> got[0] = i), System.err);
    } catch (Refused r) {
      System.err.println("error: " + r.getMessage());
      return 1;
    }
    String summary = got[0].summary() + " from " + file.getFileName();
    new ImportReports(dir).add(new ImportReports.Report(summary, Clock.systemUTC().instant()));
    System.out.println(summary);
    System.out.println("the agent runs it when it starts, and reports the import when it connects");
    return 0;
  }

  /** The agent runs: it imports what appears in its inbox. */
  private int handOver(Path dir) throws IOException {
    Path inbox = ImportFeature.inbox(dir);
    SecureFiles.createPrivateDirectories(inbox);
    String name = System.currentTimeMillis() + "-" + file.getFileName();
    if (!name.endsWith(ExportManifest.EXTENSION)) {
      name += ExportManifest.EXTENSION;
    }
    Path part = inbox.resolve(name + ".part");
    Files.copy(file, part, StandardCopyOption.REPLACE_EXISTING);
    Files.move(part, inbox.resolve(name), StandardCopyOption.ATOMIC_MOVE);
    System.out.println(
        "the agent is running: handed "
            + file.getFileName()
            + " to it; it imports the file within seconds and prints the outcome in its log (a"
            + " refusal also shows in the device's events)");
    return 0;
  }
}
