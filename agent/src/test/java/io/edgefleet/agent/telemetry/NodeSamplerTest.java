package io.edgefleet.agent.telemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodeSamplerTest {
  @TempDir Path proc;

  void copy(String from, String to) throws Exception {
    Files.createDirectories(proc.resolve(to).getParent());
    Files.writeString(proc.resolve(to), ProcParsersTest.sample(from));
  }

  @Test
  void aSampleFromSampleFiles() throws Exception {
    copy("proc-sample/stat", "stat");
    copy("proc-sample/meminfo", "meminfo");
    copy("proc-sample/uptime", "uptime");
    copy("proc-sample/loadavg", "loadavg");
    copy("proc-sample/net/dev", "net/dev");
    Files.writeString(proc.resolve("mounts"), "/dev/root / ext4 rw 0 0\n");
    NodeSampler sampler = new NodeSampler(proc, Optional.empty());

    Map<String, Double> first = sampler.sample();
    assertThat(first).doesNotContainKey("cpu.used.percent");
    assertThat(first.get("mem.used.bytes")).isEqualTo((8_039_252.0 - 5_203_112.0) * 1024);
    assertThat(first.get("mem.used.percent"))
        .isCloseTo(100.0 * (8_039_252 - 5_203_112) / 8_039_252, within(1e-9));
    assertThat(first.get("swap.used.bytes")).isEqualTo((2_097_148.0 - 1_048_574.0) * 1024);
    assertThat(first.get("uptime.seconds")).isEqualTo(351234.56);
    assertThat(first.get("load.1")).isEqualTo(0.52);
    assertThat(first.get("net.eth0.rx.bytes")).isEqualTo(1_234_567_890.0);
    assertThat(first.get("net.eth0.errors")).isEqualTo(5.0);
    assertThat(first).containsKey("net.wlan0.tx.bytes");
    assertThat(first.keySet()).noneMatch(k -> k.startsWith("net.lo.") || k.contains("flannel"));
    // The root file system of the machine running the test is real.
    assertThat(first.get("disk./.used.percent")).isBetween(0.0, 100.0);
    assertThat(first.get("disk./.free.bytes")).isPositive();

    Files.copy(
        NodeSamplerTest.class.getResourceAsStream("/proc-sample/stat.later"),
        proc.resolve("stat"),
        StandardCopyOption.REPLACE_EXISTING);
    Map<String, Double> second = sampler.sample();
    assertThat(second.get("cpu.used.percent")).isCloseTo(100.0 * 150 / 550, within(1e-9));
    assertThat(second.get("net.eth0.rx.bytes_per_s")).isZero();
  }

  @Test
  void gpusComeFromNvidiaSmiWhenItIsInstalled() throws Exception {
    Path smi = proc.resolve("nvidia-smi");
    Files.writeString(
        smi, "#!/bin/sh\necho '0, 35, 1024, 8192, 45'\necho '1, [N/A], 2048, 16384, 61'\n");
    smi.toFile().setExecutable(true);
    Map<String, Double> s = new NodeSampler(proc, Optional.of(smi)).sample();
    assertThat(s.get("gpu.0.used.percent")).isEqualTo(35.0);
    assertThat(s.get("gpu.0.mem.total.bytes")).isEqualTo(8192.0 * 1024 * 1024);
    assertThat(s.get("gpu.1.temp.celsius")).isEqualTo(61.0);
    assertThat(s).doesNotContainKey("gpu.1.used.percent");
  }

  @Test
  void aFailingNvidiaSmiIsLeftOut() throws Exception {
    Path smi = proc.resolve("nvidia-smi");
    Files.writeString(smi, "#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n");
    smi.toFile().setExecutable(true);
    assertThat(new NodeSampler(proc, Optional.of(smi)).sample()).isEmpty();
  }

  @Test
  void missingFilesAreLeftOutNotFatal() {
    assertThat(new NodeSampler(proc, Optional.empty()).sample()).isEmpty();
  }

  @Test
  void theRealNodeHasTheBasics() {
    NodeSampler sampler = NodeSampler.system();
    sampler.sample();
    Map<String, Double> s = sampler.sample();
    assertThat(s).containsKeys("mem.used.bytes", "uptime.seconds", "load.1");
  }
}
