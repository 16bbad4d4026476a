package io.edgefleet.agentdist;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.jar.Manifest;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReleaseJarTest {
  @TempDir Path dir;

  private static final String SIGNED_MANIFEST =
      "Manifest-Version: 1.0\r\nAutomatic-Module-Name: org.example\r\n\r\n"
          + "Name: org/example/A.class\r\nSHA-256-Digest: AAAA\r\n\r\n"
          + "Name: org/example/B.class\r\nSHA-256-Digest: BBBB\r\n\r\n";

  @Test
  void aSignedJarLosesItsSignatureAndPerEntrySectionsAndKeepsEverythingElse() throws IOException {
    Path jar =
        jar(
            "signed.jar",
            Map.of(
                "META-INF/MANIFEST.MF", SIGNED_MANIFEST,
                "META-INF/BC1.SF", "signature file",
                "META-INF/BC1.RSA", "signature block",
                "META-INF/services/x.Y", "org.example.A",
                "org/example/A.class", "class A",
                "org/example/B.class", "class B"));

    byte[] stripped = ReleaseJar.of(jar).orElseThrow();

    Map<String, String> entries = read(stripped);
    assertThat(entries.keySet())
        .containsExactly(
            "META-INF/MANIFEST.MF",
            "META-INF/services/x.Y",
            "org/example/A.class",
            "org/example/B.class");
    assertThat(entries.get("org/example/A.class")).isEqualTo("class A");
    assertThat(entries.get("META-INF/services/x.Y")).isEqualTo("org.example.A");
    Manifest manifest =
        new Manifest(
            new ByteArrayInputStream(
                entries.get("META-INF/MANIFEST.MF").getBytes(StandardCharsets.UTF_8)));
    assertThat(manifest.getEntries()).isEmpty();
    assertThat(manifest.getMainAttributes().getValue("Automatic-Module-Name"))
        .isEqualTo("org.example");
    Path out = dir.resolve("out.jar");
    Files.write(out, stripped);
    assertThat(ReleaseJar.needsChange(out)).isFalse();
    assertThat(ReleaseJar.of(jar).orElseThrow()).isEqualTo(stripped);
  }

  @Test
  void aSecurityProviderRegistrationIsDroppedAndOtherServicesKept() throws IOException {
    Path jar =
        jar(
            "provider.jar",
            Map.of(
                "META-INF/MANIFEST.MF",
                "Manifest-Version: 1.0\r\n\r\n",
                ReleaseJar.PROVIDER_SERVICE,
                "org.example.Provider",
                "META-INF/services/x.Y",
                "org.example.A",
                "org/example/Provider.class",
                "class P"));
    assertThat(ReleaseJar.needsChange(jar)).isTrue();
    Map<String, String> entries = read(ReleaseJar.of(jar).orElseThrow());
    assertThat(entries.keySet())
        .containsExactly(
            "META-INF/MANIFEST.MF", "META-INF/services/x.Y", "org/example/Provider.class");
    assertThat(entries.get("org/example/Provider.class")).isEqualTo("class P");
  }

  @Test
  void anUnsignedJarIsLeftAsItIs() throws IOException {
    Path jar =
        jar(
            "plain.jar",
            Map.of(
                "META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n\r\n",
                "META-INF/maven/x/pom.properties", "version=1",
                "org/example/A.class", "class A"));
    assertThat(ReleaseJar.needsChange(jar)).isFalse();
    assertThat(ReleaseJar.of(jar)).isEmpty();
  }

  private Path jar(String name, Map<String, String> entries) throws IOException {
    Path jar = dir.resolve(name);
    List<String> names = new ArrayList<>(entries.keySet());
    names.sort(
        (a, b) ->
            a.equals("META-INF/MANIFEST.MF")
                ? -1
                : b.equals("META-INF/MANIFEST.MF") ? 1 : a.compareTo(b));
    try (OutputStream file = Files.newOutputStream(jar);
        ZipOutputStream out = new ZipOutputStream(file)) {
      for (String n : names) {
        out.putNextEntry(new ZipEntry(n));
        out.write(entries.get(n).getBytes(StandardCharsets.UTF_8));
        out.closeEntry();
      }
    }
    return jar;
  }

  private static Map<String, String> read(byte[] jar) throws IOException {
    Map<String, String> entries = new LinkedHashMap<>();
    try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(jar))) {
      for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
        entries.put(e.getName(), new String(in.readAllBytes(), StandardCharsets.UTF_8));
      }
    }
    return entries;
  }
}
