package io.edgefleet.agent.telemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ProcParsersTest {

  static String sample(String name) throws IOException {
    try (InputStream in = ProcParsersTest.class.getResourceAsStream("/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void cpuBusyAndIowaitPercentagesComeFromTheDifferenceOfTwoReadings() throws IOException {
    ProcParsers.CpuTimes first = ProcParsers.cpu(sample("proc-sample/stat")).orElseThrow();
    ProcParsers.CpuTimes later = ProcParsers.cpu(sample("proc-sample/stat.later")).orElseThrow();
    assertThat(first.total()).isEqualTo(3_704_894);
    assertThat(first.idle()).isEqualTo(3_699_176);
    assertThat(first.iowait()).isEqualTo(23);
    double[] p = later.since(first).orElseThrow();
    assertThat(p[0]).isCloseTo(100.0 * 150 / 550, within(1e-9));
    assertThat(p[1]).isCloseTo(100.0 * 50 / 550, within(1e-9));
    assertThat(first.since(first)).as("no time passed").isEmpty();
  }

  @Test
  void cpuLineThatIsMissingOrGarbledGivesNothing() {
    assertThat(ProcParsers.cpu("intr 1 2 3\n")).isEmpty();
    assertThat(ProcParsers.cpu("cpu  a b c d e\n")).isEmpty();
    assertThat(ProcParsers.cpu("")).isEmpty();
  }

  @Test
  void meminfoIsInBytes() throws IOException {
    Map<String, Long> m = ProcParsers.meminfo(sample("proc-sample/meminfo"));
    assertThat(m.get("MemTotal")).isEqualTo(8_039_252L * 1024);
    assertThat(m.get("MemAvailable")).isEqualTo(5_203_112L * 1024);
    assertThat(m.get("HugePages_Total")).isZero();
  }

  @Test
  void uptimeAndLoad() throws IOException {
    assertThat(ProcParsers.uptime(sample("proc-sample/uptime"))).hasValue(351234.56);
    assertThat(ProcParsers.load1(sample("proc-sample/loadavg"))).hasValue(0.52);
    assertThat(ProcParsers.uptime("not a number")).isEmpty();
  }

  @Test
  void networkCountersOfTheNodesOwnInterfaces() throws IOException {
    List<ProcParsers.NetCounters> all = ProcParsers.netDev(sample("proc-sample/net/dev"));
    assertThat(all)
        .extracting(ProcParsers.NetCounters::name)
        .containsExactly("lo", "eth0", "wlan0", "flannel.1", "cni0", "vethab12cd34");
    ProcParsers.NetCounters eth0 = all.get(1);
    assertThat(eth0.rxBytes()).isEqualTo(1_234_567_890L);
    assertThat(eth0.txBytes()).isEqualTo(987_654_321L);
    assertThat(eth0.rxErrors()).isEqualTo(3);
    assertThat(eth0.txErrors()).isEqualTo(2);
    assertThat(all.stream().map(ProcParsers.NetCounters::name).filter(ProcParsers::physical))
        .containsExactly("eth0", "wlan0");
  }

  @Test
  void diskMountsAreRealFileSystemsEachDeviceOnce() throws IOException {
    assertThat(ProcParsers.diskMounts(sample("proc-sample/mounts")))
        .containsExactly(
            new ProcParsers.Mount("/dev/mmcblk0p2", "/", "ext4"),
            new ProcParsers.Mount("/dev/mmcblk0p1", "/boot/firmware", "vfat"),
            new ProcParsers.Mount("/dev/sda1", "/mnt/data disk", "xfs"));
  }

  @Test
  void nvidiaSmiCsvWithUnsupportedFields() throws IOException {
    List<ProcParsers.Gpu> gpus = ProcParsers.nvidiaSmi(sample("nvidia-smi.csv"));
    assertThat(gpus).hasSize(2);
    assertThat(gpus.get(0))
        .isEqualTo(new ProcParsers.Gpu("0", 35, 1024.0 * 1024 * 1024, 8192.0 * 1024 * 1024, 45));
    assertThat(gpus.get(1).usedPercent()).isNaN();
    assertThat(gpus.get(1).temp()).isEqualTo(61);
  }

  @Test
  void namesAreMadeSafeForMetricNames() {
    assertThat(ProcParsers.safe("/mnt/data disk")).isEqualTo("/mnt/data_disk");
    assertThat(ProcParsers.safe("eth0.100@x")).isEqualTo("eth0.100_x");
  }
}
