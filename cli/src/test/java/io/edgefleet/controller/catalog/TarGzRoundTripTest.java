package io.edgefleet.controller.catalog;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.cli.TarGz;
import java.nio.charset.StandardCharsets;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * What the CLI (and the scale benchmark) write is what the controller's catalog reads back, file
 * for file. In the controller's package to reach its archive reader, which is not public.
 */
class TarGzRoundTripTest {
  @Test
  void filesWrittenByTheCliAreReadBackByTheCatalogUnchanged() {
    SortedMap<String, byte[]> files = new TreeMap<>();
    files.put("Chart.yaml", bytes("apiVersion: v2\nname: web\nversion: 1.0.0\n"));
    files.put("templates/" + "long-".repeat(30) + "name.yaml", bytes("kind: ConfigMap\n"));
    files.put("templates/ünïcödé.yaml", bytes("é"));
    files.put("templates/empty.yaml", new byte[0]);
    byte[] binary = new byte[70_000];
    for (int i = 0; i < binary.length; i++) {
      binary[i] = (byte) (i * 31);
    }
    files.put("files/blob.bin", binary);

    byte[] tgz = TarGz.write(files);
    SortedMap<String, byte[]> read = Archives.readTarGz(tgz);

    assertThat(read.keySet()).containsExactlyElementsOf(files.keySet());
    files.forEach((path, content) -> assertThat(read.get(path)).as(path).isEqualTo(content));
    assertThat(Archives.digest(read)).isEqualTo(Archives.digest(files));
    assertThat(TarGz.write(new TreeMap<>(files))).isEqualTo(tgz);
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
