package io.edgefleet.agentdist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgentDistTest {
  @TempDir Path dir;

  @Test
  void versionsAndArchitecturesInDebiansTerms() {
    assertThat(AgentDist.debianVersion("0.1.0-snapshot")).isEqualTo("0.1.0~snapshot");
    assertThat(AgentDist.debianVersion("1.2.3")).isEqualTo("1.2.3");
    assertThatThrownBy(() -> AgentDist.debianVersion("v1 beta"))
        .hasMessageContaining("not usable as a Debian version");
    assertThat(AgentDist.debianArch("amd64")).isEqualTo("amd64");
    assertThat(AgentDist.debianArch("aarch64")).isEqualTo("arm64");
    assertThatThrownBy(() -> AgentDist.debianArch("sparc")).hasMessageContaining("sparc");
    assertThat(AgentDist.debFileName("0.2.0", "aarch64"))
        .isEqualTo("edgefleet-agent_0.2.0_arm64.deb");
    assertThat(AgentDist.releaseFileName("0.2.0", "aarch64"))
        .isEqualTo("edgefleet-agent-0.2.0-linux-aarch64.tar.gz");
  }

  @Test
  void archiveTimeIsTheBuildsOutputTimestamp() {
    assertThat(AgentDist.mtime("2026-01-01T00:00:00Z")).isEqualTo(1767225600L);
    assertThat(AgentDist.mtime("1767225600")).isEqualTo(1767225600L);
    assertThat(AgentDist.mtime("")).isZero();
    assertThat(AgentDist.mtime("${project.build.outputTimestamp}")).isZero();
  }

  @Test
  void entriesRefuseUncleanPaths() {
    for (String bad : List.of("/etc/x", "a/../b", "..", "a//b", "a/", "./a", "")) {
      assertThatThrownBy(() -> Entry.directory(bad)).as(bad).hasMessageContaining("not a clean");
    }
  }

  @Test
  void tarIsReproducibleAndReadByTar() throws Exception {
    String longDir =
        "usr/lib/edgefleet-agent/runtime/legal/" + "x".repeat(60) + "/" + "y".repeat(40);
    List<Entry> entries =
        List.of(
            Entry.file("b/script", 0755, "#!/bin/sh\n".getBytes(StandardCharsets.UTF_8)),
            Entry.file("a.txt", 0644, "hello".getBytes(StandardCharsets.UTF_8)),
            Entry.file(longDir + "/LICENSE", 0644, new byte[1000]));
    ByteArrayOutputStream first = new ByteArrayOutputStream();
    ByteArrayOutputStream second = new ByteArrayOutputStream();
    Tar.writeGzip(first, entries, 1767225600L, false);
    Tar.writeGzip(second, entries.reversed(), 1767225600L, false);
    assertThat(first.toByteArray()).isEqualTo(second.toByteArray());

    Path file = dir.resolve("t.tar.gz");
    Files.write(file, first.toByteArray());
    Process p =
        new ProcessBuilder("tar", "tvzf", file.toString()).redirectErrorStream(true).start();
    List<String> lines = new String(p.getInputStream().readAllBytes()).lines().toList();
    assertThat(p.waitFor()).isZero();
    assertThat(lines.stream().map(l -> l.replaceAll(".* ", "")))
        .containsExactly(
            "a.txt",
            "b/",
            "b/script",
            "usr/",
            "usr/lib/",
            "usr/lib/edgefleet-agent/",
            "usr/lib/edgefleet-agent/runtime/",
            "usr/lib/edgefleet-agent/runtime/legal/",
            "usr/lib/edgefleet-agent/runtime/legal/" + "x".repeat(60) + "/",
            longDir + "/",
            longDir + "/LICENSE");
    assertThat(lines.get(2)).startsWith("-rwxr-xr-x root/root").contains("2026-01-01 00:00");
  }

  @Test
  void tarRefusesTwoEntriesForOnePathAndAFileAsParent() {
    byte[] x = {1};
    assertThatThrownBy(
            () -> Tar.complete(List.of(Entry.file("a", 0644, x), Entry.file("a", 0644, x))))
        .hasMessageContaining("two archive entries for a");
    assertThatThrownBy(
            () -> Tar.complete(List.of(Entry.file("a", 0644, x), Entry.file("a/b", 0644, x))))
        .hasMessageContaining("a is a file and the parent of a/b");
  }
}
