package io.edgefleet.agent.runtime.vm;

import io.edgefleet.protocol.json.JsonCodec;
import io.edgefleet.protocol.workload.VmSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * What the agent knows of one VM it started, kept in the VM's directory ({@code vm.json}) so that a
 * restarted agent finds its VMs running again without rebooting them.
 *
 * @param app the app
 * @param vm the VM's name in the app
 * @param revision the app revision the VM was last applied with
 * @param specHash identifies the spec QEMU was started with: a different one means restart
 * @param spec that spec (for readiness and the restart policy)
 * @param pid QEMU's process id
 * @param startedAt when this QEMU was started
 * @param restarts how often the agent restarted the VM after it stopped on its own
 * @param lastExit why it last stopped on its own, for people; null if never
 * @param readyAt when this boot was first seen ready; null until then
 */
record VmRecord(
    String app,
    String vm,
    String revision,
    String specHash,
    VmSpec spec,
    long pid,
    Instant startedAt,
    int restarts,
    String lastExit,
    Instant readyAt) {

  static final String FILE = "vm.json";

  VmRecord {
    Objects.requireNonNull(app, "app");
    Objects.requireNonNull(vm, "vm");
    Objects.requireNonNull(spec, "spec");
    Objects.requireNonNull(startedAt, "startedAt");
  }

  VmRecord withRevision(String r) {
    return new VmRecord(app, vm, r, specHash, spec, pid, startedAt, restarts, lastExit, readyAt);
  }

  VmRecord withReadyAt(Instant at) {
    return new VmRecord(app, vm, revision, specHash, spec, pid, startedAt, restarts, lastExit, at);
  }

  /** The record in {@code dir}, if there is a readable one. */
  static Optional<VmRecord> read(Path dir) {
    Path file = dir.resolve(FILE);
    if (!Files.isRegularFile(file)) {
      return Optional.empty();
    }
    try {
      return Optional.of(JsonCodec.read(Files.readAllBytes(file), VmRecord.class));
    } catch (IOException | RuntimeException e) {
      // A damaged record (a crash while writing is excluded by the atomic rename) is treated as a
      // VM without a record: its QEMU, if any, is found by its pid file and stopped.
      return Optional.empty();
    }
  }

  /** Writes the record atomically: a reader sees the old or the new one, never a part. */
  void write(Path dir) {
    try {
      Path tmp = dir.resolve(FILE + ".tmp");
      Files.write(tmp, JsonCodec.writeBytes(this));
      try {
        Files.move(
            tmp,
            dir.resolve(FILE),
            StandardCopyOption.ATOMIC_MOVE,
            StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, dir.resolve(FILE), StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the record of VM " + vm + " in " + dir, e);
    }
  }
}
