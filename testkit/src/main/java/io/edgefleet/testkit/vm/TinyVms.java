package io.edgefleet.testkit.vm;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.cpio.CpioArchiveEntry;
import org.apache.commons.compress.archivers.cpio.CpioArchiveOutputStream;
import org.apache.commons.compress.archivers.cpio.CpioConstants;

/**
 * Tiny virtual machines for tests: Debian's cloud kernel (fetched once by {@code
 * testkit/vm/kernel.sh} into {@code ~/.cache/edgefleet/vm-kernel}) and an initramfs built here: the
 * static BusyBox, the virtio network modules of that kernel, and an {@code /init} that brings up
 * the network, optionally serves HTTP with BusyBox's {@code httpd}, and prints a readiness line on
 * the serial console. Under software emulation it is ready in a few seconds.
 */
public final class TinyVms {
  /** Where Debian's {@code busybox-static} puts the binary. */
  public static final Path BUSYBOX = Path.of("/bin/busybox");

  /** The virtio network driver and what it needs, in load order. */
  private static final List<String> MODULES =
      List.of(
          "drivers/virtio/virtio_ring.ko",
          "drivers/virtio/virtio.ko",
          "drivers/virtio/virtio_pci_legacy_dev.ko",
          "drivers/virtio/virtio_pci_modern_dev.ko",
          "drivers/virtio/virtio_pci.ko",
          "net/core/failover.ko",
          "drivers/net/net_failover.ko",
          "drivers/net/virtio_net.ko",
          "drivers/block/virtio_blk.ko");

  /** The kernel command line the tiny VMs boot with. */
  public static final String CMDLINE = "console=ttyS0 quiet panic=-1";

  private TinyVms() {}

  /**
   * The kernel cache: {@code $EDGEFLEET_VM_KERNEL_HOME} or {@code ~/.cache/edgefleet/vm-kernel}.
   */
  public static Path kernelHome() {
    String given = System.getenv("EDGEFLEET_VM_KERNEL_HOME");
    return given != null && !given.isBlank()
        ? Path.of(given)
        : Path.of(System.getProperty("user.home"), ".cache", "edgefleet", "vm-kernel");
  }

  /**
   * The kernel image.
   *
   * @throws IllegalStateException when it was not fetched: run {@code testkit/vm/kernel.sh}
   */
  public static Path kernel() {
    Path k = kernelHome().resolve("vmlinuz");
    if (!Files.isRegularFile(k) || !Files.isDirectory(kernelHome().resolve("modules"))) {
      throw new IllegalStateException(
          "no test kernel in " + kernelHome() + ": run testkit/vm/kernel.sh (.ci/run does)");
    }
    return k;
  }

  /**
   * An initramfs (newc cpio, gzip) whose {@code /init} prints {@code readyLine} on the serial
   * console once the network is up, serving {@code index.html} (holding {@code page}) over HTTP on
   * guest port {@code httpPort} when it is above 0.
   */
  public static byte[] initramfs(String readyLine, int httpPort, String page) {
    return initramfs(readyLine, httpPort, page, "");
  }

  /**
   * Like {@link #initramfs(String, int, String)}; with a {@code diskMark}, the guest first writes
   * it at the start of its first disk ({@code /dev/vda}) and syncs, so a test can find where the
   * guest's writes went.
   */
  public static byte[] initramfs(String readyLine, int httpPort, String page, String diskMark) {
    return initramfs(readyLine, httpPort, page, diskMark, "");
  }

  /**
   * Like {@link #initramfs(String, int, String, String)}, running the shell commands {@code script}
   * (BusyBox applets are on the PATH, the virtio disks are {@code /dev/vd*}) before the readiness
   * line; what they print to {@code /dev/ttyS0} shows on the serial console.
   */
  public static byte[] initramfs(
      String readyLine, int httpPort, String page, String diskMark, String script) {
    if (!Files.isExecutable(BUSYBOX)) {
      throw new IllegalStateException(
          BUSYBOX
              + " is missing: install Debian's busybox-static (apt-get install busybox-static)");
    }
    StringBuilder init = new StringBuilder();
    init.append("#!/bin/busybox sh\n")
        .append("export PATH=/bin\n")
        .append("/bin/busybox --install -s /bin\n")
        .append("mkdir -p /proc /sys /dev /tmp /www\n")
        .append("mount -t proc proc /proc\n")
        .append("mount -t sysfs sys /sys\n")
        .append("mount -t devtmpfs dev /dev\n")
        .append("for m in ");
    for (String m : MODULES) {
      init.append(m.substring(m.lastIndexOf('/') + 1, m.length() - 3)).append(' ');
    }
    init.append("; do insmod /lib/modules/$m.ko 2>/dev/null; done\n")
        .append("ip link set lo up\n")
        .append("ip link set eth0 up 2>/dev/null && ip addr add 10.0.2.15/24 dev eth0")
        .append(" && ip route add default via 10.0.2.2\n");
    if (httpPort > 0) {
      init.append("cat > /www/index.html <<'EOF'\n").append(page).append("\nEOF\n");
      init.append("httpd -p ").append(httpPort).append(" -h /www\n");
    }
    if (!diskMark.isEmpty()) {
      // The disk's device node appears once the driver probed it, a moment after insmod.
      init.append("for i in $(seq 50); do [ -b /dev/vda ] && break; sleep 0.1; done\n");
      init.append("[ -b /dev/vda ] && echo '")
          .append(diskMark.replace("'", ""))
          .append("' | dd of=/dev/vda conv=notrunc,fsync 2>/dev/null; sync\n");
    }
    if (!script.isEmpty()) {
      init.append("for i in $(seq 50); do [ -b /dev/vda ] && break; sleep 0.1; done\n");
      init.append(script).append('\n');
    }
    init.append("echo '").append(readyLine.replace("'", "")).append("' > /dev/ttyS0\n");
    // PID 1 must not end: the guest would panic.
    init.append("while true; do sleep 3600; done\n");
    Map<String, byte[]> files = new LinkedHashMap<>();
    try {
      files.put("bin/busybox", Files.readAllBytes(BUSYBOX));
      Path mods = kernelHome().resolve("modules").resolve("kernel");
      for (String m : MODULES) {
        Path p = mods.resolve(m);
        if (Files.isRegularFile(p)) {
          files.put("lib/modules/" + p.getFileName(), Files.readAllBytes(p));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    files.put("init", init.toString().getBytes(StandardCharsets.UTF_8));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out);
        CpioArchiveOutputStream cpio = new CpioArchiveOutputStream(gz, CpioConstants.FORMAT_NEW)) {
      for (String dir : List.of("bin", "lib", "lib/modules")) {
        CpioArchiveEntry e = new CpioArchiveEntry(CpioConstants.FORMAT_NEW, dir);
        e.setMode(CpioConstants.C_ISDIR | 0755);
        e.setNumberOfLinks(2);
        cpio.putArchiveEntry(e);
        cpio.closeArchiveEntry();
      }
      for (Map.Entry<String, byte[]> f : files.entrySet()) {
        CpioArchiveEntry e = new CpioArchiveEntry(CpioConstants.FORMAT_NEW, f.getKey());
        boolean exec = f.getKey().equals("init") || f.getKey().startsWith("bin/");
        e.setMode(CpioConstants.C_ISREG | (exec ? 0755 : 0644));
        e.setSize(f.getValue().length);
        e.setNumberOfLinks(1);
        cpio.putArchiveEntry(e);
        cpio.write(f.getValue());
        cpio.closeArchiveEntry();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /**
   * Puts {@code content} into the agent's blob cache under {@code stateDir} ({@code
   * blobs/sha256/<hex>}, read-only) as a verified download would, and answers its digest.
   */
  public static String putBlob(Path stateDir, byte[] content) {
    String hex = sha256(content);
    Path dir = stateDir.resolve("blobs").resolve("sha256");
    try {
      Files.createDirectories(dir);
      Path file = dir.resolve(hex);
      if (!Files.exists(file)) {
        Path tmp = dir.resolve(hex + ".tmp");
        Files.write(tmp, content);
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("r--------"));
        Files.move(tmp, file);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return "sha256:" + hex;
  }

  /** Like {@link #putBlob(Path, byte[])}, for a file. */
  public static String putBlob(Path stateDir, Path file) {
    try {
      return putBlob(stateDir, Files.readAllBytes(file));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static String sha256(byte[] content) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
