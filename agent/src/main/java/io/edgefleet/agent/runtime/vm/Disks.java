package io.edgefleet.agent.runtime.vm;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.json.JsonCodec;
import io.edgefleet.protocol.json.JsonCodecException;
import io.edgefleet.protocol.workload.VmSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;

/**
 * A VM's own disk: a qcow2 overlay on top of the disk image blob, so that the blob (shared, and
 * verified against its digest) is never written. The overlay lives in the VM's directory, named
 * after the image's digest: it is kept across restarts of the VM, and a new image makes a new
 * overlay (the old one is deleted). Not thread-safe: callers hold the app's lock.
 */
final class Disks {
  private final Path qemuImg;
  private final Duration timeout;

  /** The program failed; the message says why (qemu-img's own words). */
  static final class DiskException extends RuntimeException {
    DiskException(String message) {
      super(message);
    }
  }

  Disks(Path qemuImg, Duration timeout) {
    this.qemuImg = qemuImg;
    this.timeout = timeout;
  }

  /** The overlay's file for a disk image digest. */
  static Path overlay(Path vmDir, String imageDigest) {
    return vmDir.resolve("disk-" + imageDigest.substring("sha256:".length(), 7 + 24) + ".qcow2");
  }

  /**
   * The VM's overlay over {@code blob}, created if missing and grown to the disk's size; overlays
   * of other images in {@code vmDir} are deleted.
   *
   * @throws DiskException when qemu-img fails
   */
  Path ensure(Path vmDir, Path blob, VmSpec.Disk disk) {
    Path overlay = overlay(vmDir, disk.image());
    deleteOthers(vmDir, overlay);
    if (!Files.isRegularFile(overlay)) {
      Path tmp = vmDir.resolve(overlay.getFileName() + ".tmp");
      deleteQuietly(tmp);
      check(
          Tools.run(
              List.of(
                  qemuImg.toString(),
                  "create",
                  "-q",
                  "-f",
                  "qcow2",
                  "-b",
                  blob.toAbsolutePath().toString(),
                  "-F",
                  disk.format(),
                  tmp.toString()),
              timeout),
          "cannot create the disk overlay of " + disk.image());
      try {
        Files.move(tmp, overlay, StandardCopyOption.ATOMIC_MOVE);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    if (disk.sizeBytes() > 0 && virtualSize(overlay) < disk.sizeBytes()) {
      // Only ever grown: shrinking would cut off what the guest wrote.
      check(
          Tools.run(
              List.of(
                  qemuImg.toString(),
                  "resize",
                  "-q",
                  "-f",
                  "qcow2",
                  overlay.toString(),
                  Long.toString(disk.sizeBytes())),
              timeout),
          "cannot grow the disk of " + disk.image() + " to " + disk.sizeBytes() + " bytes");
    }
    return overlay;
  }

  /** The disk size the guest sees. */
  long virtualSize(Path image) {
    Tools.Result r =
        Tools.run(
            List.of(
                qemuImg.toString(), "info", "--output=json", "-U", "-f", "qcow2", image.toString()),
            timeout);
    check(r, "cannot read the disk " + image.getFileName());
    try {
      JsonNode info = JsonCodec.readTree(r.output());
      return info.path("virtual-size").asLong();
    } catch (JsonCodecException e) {
      throw new DiskException("qemu-img info answered something that is not JSON");
    }
  }

  /** Deletes every overlay of the VM (its disk's content is gone). */
  static void deleteAll(Path vmDir) {
    deleteOthers(vmDir, vmDir.resolve("none"));
  }

  private static void deleteOthers(Path vmDir, Path keep) {
    if (!Files.isDirectory(vmDir)) {
      return;
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(vmDir, "disk-*.qcow2*")) {
      for (Path p : ds) {
        if (!p.equals(keep)) {
          Files.deleteIfExists(p);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void check(Tools.Result r, String what) {
    if (!r.ok()) {
      throw new DiskException(what + ": " + r.lastWords());
    }
  }
}
