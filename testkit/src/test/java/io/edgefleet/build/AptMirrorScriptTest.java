package io.edgefleet.build;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code k8s/apt-mirror.sh}: which Debian mirror the Kubernetes build fetches its source package
 * from, read from apt source files laid out in a temporary directory as they are under /etc/apt.
 */
class AptMirrorScriptTest {
  private static final Path SCRIPT = Path.of("k8s/apt-mirror.sh");

  @TempDir Path etc;

  @Test
  void deb822SourcesAsDebianInstallsThem() throws Exception {
    write(
        "sources.list.d/debian.sources",
        """
        Types: deb
        # http://snapshot.debian.org/archive/debian/20250520T000000Z
        URIs: http://mirror.example.net/debian/
        Suites: bookworm bookworm-updates
        Components: main
        Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

        Types: deb
        URIs: http://mirror.example.net/debian-security
        Suites: bookworm-security
        Components: main
        """);

    assertThat(run()).isEqualTo(new Result(0, "http://mirror.example.net/debian", ""));
  }

  @Test
  void oneLineEntriesWithOptionsAndComments() throws Exception {
    write(
        "sources.list",
        """
        # deb http://commented.example.org/debian bookworm main
        deb http://security.example.org/debian-security bookworm-security main
          deb [ arch=amd64 signed-by=/usr/share/keyrings/x.gpg ] https://one.example.org/mirror/debian bookworm main # the mirror
        deb http://two.example.org/debian bookworm main
        """);

    assertThat(run().out()).isEqualTo("https://one.example.org/mirror/debian");
  }

  @Test
  void sourcesListComesFirstThenSourcesListDByNameAndDisabledOrForeignEntriesAreSkipped()
      throws Exception {
    write("sources.list", "deb https://deb.nodesource.com/node_20.x nodistro main\n");
    write(
        "sources.list.d/a-off.sources",
        """
        Types: deb
        URIs: http://disabled.example.org/debian
        Suites: bookworm
        Components: main
        Enabled: no
        """);
    write(
        "sources.list.d/b-keyed.sources",
        """
        Types: deb-src
        URIs: http://b.example.org/debian
        Suites: bookworm
        Components: main
        Signed-By:
         -----BEGIN PGP PUBLIC KEY BLOCK-----
         .
         URIs: http://inside-a-key.example.org/debian
         -----END PGP PUBLIC KEY BLOCK-----
        """);
    write("sources.list.d/c.list", "deb http://c.example.org/debian bookworm main\n");
    write(
        "sources.list.d/a.list.disabled", "deb http://ignored.example.org/debian bookworm main\n");

    assertThat(run().out()).isEqualTo("http://b.example.org/debian");

    Files.delete(etc.resolve("sources.list.d/b-keyed.sources"));
    assertThat(run().out()).isEqualTo("http://c.example.org/debian");
  }

  @Test
  void noDebianMirrorFailsWithAMessageSayingWhereItLooked() throws Exception {
    write(
        "sources.list.d/nodesource.list",
        "deb https://deb.nodesource.com/node_20.x nodistro main\n");

    Result none = run();
    assertThat(none.status()).isEqualTo(1);
    assertThat(none.out()).isEmpty();
    assertThat(none.err())
        .contains("no Debian mirror")
        .contains(etc.resolve("sources.list.d/nodesource.list").toString());

    Files.delete(etc.resolve("sources.list.d/nodesource.list"));
    assertThat(run().err()).contains("no Debian mirror").contains("(none found)");
  }

  private void write(String name, String content) throws IOException {
    Path file = etc.resolve(name);
    Files.createDirectories(file.getParent());
    Files.writeString(file, content);
  }

  private record Result(int status, String out, String err) {}

  private Result run() throws Exception {
    Process p =
        new ProcessBuilder("bash", SCRIPT.toString(), etc.toString())
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
            .start();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    return new Result(
        p.exitValue(),
        new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip(),
        new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).strip());
  }
}
