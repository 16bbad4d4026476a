package io.edgefleet.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code edgefleet export --devices SELECTOR --out FILE}: writes a signed export bundle for sites
 * without a link to the controller. The file appears under its name only once complete.
 */
@Command(
    name = "export",
    description = {
      "Write a signed export bundle (.efb) with the desired state of the devices a selector picks"
          + " and every bundle and artifact they need, to carry to a site without a link (a USB"
          + " stick); on the device: edgefleet agent import FILE.",
      "Example: edgefleet export --devices site=ship-7 --out ship-7.efb"
    })
final class ExportCommand extends TokenCommand {
  @Option(
      names = "--devices",
      required = true,
      paramLabel = "SELECTOR",
      description = "The devices to export, as a tag selector (site=ship-7); '*' for every device.")
  String devices;

  @Option(
      names = "--out",
      required = true,
      paramLabel = "FILE",
      description = "Where to write the bundle (e.g. ship-7.efb).")
  Path out;

  @Override
  void run(ControllerClient api) {
    ObjectNode body = object().put("devices", devices);
    Path target = out.toAbsolutePath();
    Path part = target.resolveSibling(target.getFileName() + ".part");
    long written;
    Progress progress = new Progress();
    try (OutputStream file = Files.newOutputStream(part)) {
      written = api.download("/api/v1/exports", body, file, progress::show);
    } catch (IOException | RuntimeException e) {
      deleteQuietly(part);
      if (e instanceof CliException c) {
        throw c;
      }
      throw CliException.failed("cannot write " + part + ": " + e.getMessage());
    }
    progress.done();
    try {
      Files.move(part, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw CliException.failed("cannot write " + target + ": " + e.getMessage());
    }
    ObjectNode result = object().put("file", target.toString()).put("bytes", written);
    print(result, () -> "wrote " + target + " (" + written + " bytes)\n");
  }

  private static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException e) {
      // Only a leftover partial file.
    }
  }

  /** Progress on stderr, at most one line per percent (or per 16 MiB without a total). */
  private final class Progress {
    private long shown = -1;

    void show(long bytes, long total) {
      long step = total > 0 ? bytes * 100 / total : bytes >> 24;
      if (step == shown) {
        return;
      }
      shown = step;
      spec.commandLine()
          .getErr()
          .print(
              total > 0
                  ? "\rexporting: " + bytes + " of " + total + " bytes (" + step + "%)"
                  : "\rexporting: " + bytes + " bytes");
      spec.commandLine().getErr().flush();
    }

    void done() {
      if (shown >= 0) {
        spec.commandLine().getErr().println();
      }
    }
  }
}
