package io.edgefleet.controller.render;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class ContentRevisionTest {

  @Test
  void renderedOutputIsNamedByTheStartOfItsBundleDigest() {
    RenderedApp app = RenderedApp.of("---\nkind: ConfigMap\n");

    assertThat(ContentRevision.ofRendered(app))
        .isEqualTo(app.digest().substring(0, "sha256:".length() + 12))
        .matches("sha256:[0-9a-f]{12}");
    assertThat(ContentRevision.isContentRevision(ContentRevision.ofRendered(app))).isTrue();
  }

  @Test
  void aChartIsNamedByAllItsFilesAndOnlyByThem() {
    SortedMap<String, byte[]> chart = files("Chart.yaml", "name: web", "values.yaml", "a: 1");
    String revision = ContentRevision.ofFiles(chart);

    assertThat(ContentRevision.ofFiles(files("Chart.yaml", "name: web", "values.yaml", "a: 1")))
        .as("the same files, read again")
        .isEqualTo(revision);
    assertThat(ContentRevision.ofFiles(files("Chart.yaml", "name: web", "values.yaml", "a: 2")))
        .isNotEqualTo(revision);
    assertThat(
            ContentRevision.ofFiles(
                files("Chart.yaml", "name: web", "values.yaml", "a: 1", "README.md", "hi")))
        .as("templates may read any file")
        .isNotEqualTo(revision);
    // Moving bytes between a path and a content, or between two files, is another content.
    assertThat(ContentRevision.ofFiles(files("ab", "c")))
        .isNotEqualTo(ContentRevision.ofFiles(files("a", "bc")));
    assertThat(ContentRevision.ofFiles(files("a", "xy", "b", "")))
        .isNotEqualTo(ContentRevision.ofFiles(files("a", "x", "b", "y")));
  }

  @Test
  void commitShasAreTheRevisionsOfBefore() {
    assertThat(ContentRevision.isCommitSha("3f2a9c1e".repeat(5))).isTrue();
    assertThat(ContentRevision.isCommitSha("3f2a9c1e".repeat(8))).isTrue();
    assertThat(ContentRevision.isCommitSha("sha256:3f2a9c1e2b4d")).isFalse();
    assertThat(ContentRevision.isCommitSha("2.0.0+1a2b3c4d")).isFalse();
    assertThat(ContentRevision.isCommitSha(null)).isFalse();
    assertThat(ContentRevision.isContentRevision("3f2a9c1e".repeat(5))).isFalse();
    assertThat(ContentRevision.shortSha("3f2a9c1e".repeat(5))).isEqualTo("3f2a9c1e3f2a");
  }

  @Test
  void onlySha256DigestsShorten() {
    assertThatThrownBy(() -> ContentRevision.shorten("md5:abc"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  private static SortedMap<String, byte[]> files(String... pathsAndContents) {
    SortedMap<String, byte[]> out = new TreeMap<>();
    for (int i = 0; i < pathsAndContents.length; i += 2) {
      out.put(pathsAndContents[i], pathsAndContents[i + 1].getBytes(StandardCharsets.UTF_8));
    }
    return out;
  }
}
