package io.edgefleet.agent.runtime.vm;

import io.edgefleet.protocol.workload.VmSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Writes a VM's cloud-init NoCloud seed: {@code user-data} and {@code meta-data} on a volume
 * labelled {@code cidata}, which cloud-init in the guest finds by its label. An ISO 9660 image made
 * by {@code genisoimage}, {@code mkisofs} or {@code xorriso} where the node has one; else the
 * files' directory, which QEMU shows the guest as a read-only FAT disk (its {@code vvfat} driver).
 * Not thread-safe: callers hold the app's lock.
 */
final class CloudInitSeed {
  private final Optional<Path> isoWriter;
  private final Duration timeout;

  /**
   * @param isoWriter {@code genisoimage}, {@code mkisofs} or {@code xorriso}; empty for none
   */
  CloudInitSeed(Optional<Path> isoWriter, Duration timeout) {
    this.isoWriter = isoWriter;
    this.timeout = timeout;
  }

  /** The first ISO writer on the {@code PATH}. */
  static Optional<Path> findIsoWriter() {
    return Tools.find("genisoimage", "mkisofs", "xorriso");
  }

  /**
   * Writes the seed for {@code cloudInit} in {@code vmDir} (replacing an older one); meta-data
   * without an {@code instance-id} gets {@code instanceId}, which cloud-init requires.
   */
  QemuArguments.Seed write(Path vmDir, VmSpec.CloudInit cloudInit, String instanceId) {
    Path dir = vmDir.resolve("seed");
    Path iso = vmDir.resolve("seed.iso");
    try {
      delete(vmDir);
      Files.createDirectories(dir);
      String meta = cloudInit.metaData();
      if (!meta.lines().anyMatch(l -> l.startsWith("instance-id:"))) {
        meta = "instance-id: " + instanceId + "\n" + meta;
      }
      Files.writeString(dir.resolve("meta-data"), meta);
      Files.writeString(dir.resolve("user-data"), cloudInit.userData());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the cloud-init seed in " + vmDir, e);
    }
    if (isoWriter.isEmpty()) {
      return new QemuArguments.Seed(dir, true);
    }
    List<String> cmd = new ArrayList<>();
    cmd.add(isoWriter.get().toString());
    if (isoWriter.get().getFileName().toString().equals("xorriso")) {
      cmd.addAll(List.of("-as", "mkisofs"));
    }
    cmd.addAll(
        List.of(
            "-quiet",
            "-output",
            iso.toString(),
            "-volid",
            "cidata",
            "-joliet",
            "-rock",
            dir.resolve("user-data").toString(),
            dir.resolve("meta-data").toString()));
    Tools.Result r = Tools.run(cmd, timeout);
    if (!r.ok()) {
      throw new Disks.DiskException("cannot write the cloud-init seed: " + r.lastWords());
    }
    return new QemuArguments.Seed(iso, false);
  }

  /** Deletes the VM's seed, if any. */
  static void delete(Path vmDir) {
    try {
      Files.deleteIfExists(vmDir.resolve("seed.iso"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Tools.deleteTree(vmDir.resolve("seed"));
  }
}
