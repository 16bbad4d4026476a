package io.edgefleet.controller.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.OutputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading a bundle: from a jar as the controller is shipped, and what names can be served. */
class ConsoleAssetsTest {
  @TempDir Path dir;

  @Test
  void aBundleIsReadFromAJarEvenWithoutDirectoryEntries() throws Exception {
    Path jar = dir.resolve("console.jar");
    try (OutputStream out = Files.newOutputStream(jar);
        JarOutputStream j = new JarOutputStream(out)) {
      for (Map.Entry<String, String> e :
          Map.of(
                  "io/edgefleet/console-jar/index.html", "<!doctype html><p>jar console",
                  "io/edgefleet/console-jar/assets/index-9ab3.js", "export {};",
                  "io/edgefleet/console-jar/assets/index-9ab3.js.gz", "not really gzip",
                  "io/edgefleet/console-jar/assets/deeper/x.js", "no",
                  "io/edgefleet/other/secret.txt", "no")
              .entrySet()) {
        j.putNextEntry(new JarEntry(e.getKey()));
        j.write(e.getValue().getBytes(StandardCharsets.UTF_8));
        j.closeEntry();
      }
    }
    try (URLClassLoader loader = new URLClassLoader(new URL[] {jar.toUri().toURL()}, null)) {
      ConsoleAssets console = ConsoleAssets.load(loader, "io/edgefleet/console-jar/");
      assertThat(console.built()).isTrue();
      assertThat(console.route("/")).hasValue(ConsoleAssets.INDEX_ROUTE);
      assertThat(console.route("/rollouts/7")).hasValue(ConsoleAssets.INDEX_ROUTE);
      assertThat(console.route("/assets/index-9ab3.js")).hasValue(ConsoleAssets.ASSET_ROUTE);
      assertThat(console.route("/assets/index-9ab3.js.gz")).isEmpty();
      assertThat(console.route("/assets/deeper/x.js")).isEmpty();
      assertThat(console.route("/assets/..%2F..%2Fother%2Fsecret.txt")).isEmpty();
      assertThat(console.route("/api/v1/devices")).isEmpty();
      assertThat(console.route("/metrics")).isEmpty();
    }
  }

  @Test
  void contentTypesFollowTheExtension() {
    assertThat(ConsoleAssets.contentType("a-1.js")).isEqualTo("text/javascript; charset=utf-8");
    assertThat(ConsoleAssets.contentType("a-1.css")).isEqualTo("text/css; charset=utf-8");
    assertThat(ConsoleAssets.contentType("logo.svg")).isEqualTo("image/svg+xml");
    assertThat(ConsoleAssets.contentType("blob.bin")).isEqualTo("application/octet-stream");
  }
}
