package io.edgefleet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.protocol.DeviceFacts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FactsTest {
  @TempDir Path root;

  @Test
  void readsFactsFromProcSysAndEtc() throws Exception {
    write("etc/hostname", "store-17-pos\n");
    write("sys/class/dmi/id/product_serial", "SN-4711\n");
    write("sys/class/net/eth0/address", "aa:bb:cc:dd:ee:01\n");
    write("sys/class/net/lo/address", "00:00:00:00:00:00\n");
    write("sys/class/net/wlan0/address", "aa:bb:cc:dd:ee:02\n");
    write("proc/meminfo", "MemTotal:        2048000 kB\nMemFree: 1 kB\n");
    write("etc/os-release", "NAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\n");
    write("usr/local/bin/k3s", "");

    DeviceFacts f = new Facts(root).collect(Optional.empty(), root);
    assertThat(f.hostname()).isEqualTo("store-17-pos");
    assertThat(f.serial()).isEqualTo("SN-4711");
    assertThat(f.macs()).containsExactly("aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02");
    assertThat(f.memoryBytes()).isEqualTo(2048000L * 1024);
    assertThat(f.os()).isEqualTo("Ubuntu");
    assertThat(f.osVersion()).isEqualTo("24.04");
    assertThat(f.k3s()).isTrue();
    assertThat(f.kubelet()).isFalse();
    assertThat(f.cpus()).isPositive();
    assertThat(f.diskBytes()).isPositive();
  }

  @Test
  void serialOverrideWinsAndPlaceholderSerialsAreIgnored() throws Exception {
    write("sys/class/dmi/id/product_serial", "To Be Filled By O.E.M.\n");
    Facts facts = new Facts(root);
    assertThat(facts.dmiSerial()).isEmpty();
    assertThat(facts.collect(Optional.of("VM-7"), root).serial()).isEqualTo("VM-7");
  }

  @Test
  void missingFilesAreAbsentFactsNotErrors() {
    DeviceFacts f = new Facts(root).collect(Optional.empty(), root);
    assertThat(f.serial()).isNull();
    assertThat(f.macs()).isEmpty();
    assertThat(f.memoryBytes()).isZero();
  }

  @Test
  void theModelIsTheDmiProductNameElseTheDeviceTreeModel() throws Exception {
    write("proc/device-tree/model", "Raspberry Pi 4 Model B Rev 1.4\0");
    assertThat(new Facts(root).collect(Optional.empty(), root).model())
        .isEqualTo("Raspberry Pi 4 Model B Rev 1.4");

    write("sys/class/dmi/id/product_name", "ThinkCentre M75q Gen 2\n");
    assertThat(new Facts(root).collect(Optional.empty(), root).model())
        .isEqualTo("ThinkCentre M75q Gen 2");
  }

  @Test
  void aPlaceholderOrOverlongModelIsNotReportedAsIs() throws Exception {
    write("sys/class/dmi/id/product_name", "To Be Filled By O.E.M.\n");
    assertThat(new Facts(root).model()).isEmpty();

    write("sys/class/dmi/id/product_name", "M".repeat(1000) + "\n");
    assertThat(new Facts(root).model()).hasValue("M".repeat(Facts.MAX_MODEL));
  }

  @Test
  void noModelWhenNothingSaysOne() {
    assertThat(new Facts(root).collect(Optional.empty(), root).model()).isNull();
  }

  @Test
  void aNodeWithQemuRunsVmsBesidesKubernetes() throws Exception {
    assertThat(new Facts(root).collect(Optional.empty(), root).runtimes()).isEmpty();
    String arch = System.getProperty("os.arch").equals("amd64") ? "x86_64" : "aarch64";
    write("usr/bin/qemu-system-" + arch, "");
    DeviceFacts f = new Facts(root).collect(Optional.empty(), root);
    assertThat(f.runtimes())
        .containsExactly(DeviceFacts.RUNTIME_KUBERNETES, DeviceFacts.RUNTIME_VM);
    assertThat(f.canRun(DeviceFacts.RUNTIME_VM)).isTrue();
    assertThat(f.canRun(DeviceFacts.RUNTIME_KUBERNETES)).isTrue();
  }

  private void write(String relative, String content) throws Exception {
    Path p = root.resolve(relative);
    Files.createDirectories(p.getParent());
    Files.writeString(p, content);
  }
}
