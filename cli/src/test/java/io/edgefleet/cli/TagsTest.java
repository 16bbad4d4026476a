package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.edgefleet.protocol.Json;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TagsTest {
  @Test
  void parsesKeyAndValueAtTheFirstEquals() {
    assertThat(Tags.parse("site=store-17")).isEqualTo(new Tags.Tag("site", "store-17"));
    assertThat(Tags.parse("example.com/role=pos"))
        .isEqualTo(new Tags.Tag("example.com/role", "pos"));
    assertThat(Tags.parse("empty=")).isEqualTo(new Tags.Tag("empty", ""));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "a",
        "A.b_c-D9",
        "k8s.io/x",
        "a.b-c.d/name",
        // 63 characters, the limit
        "k23456789012345678901234567890123456789012345678901234567890123"
      })
  void acceptsKubernetesLabelKeys(String key) {
    assertThat(Tags.key(key)).isEqualTo(key);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "-site",
        "site-",
        "has space",
        "ümlaut",
        "/name",
        "prefix/",
        "Upper.Case/name",
        "bad_prefix/name",
        "a..b/name",
        "a/b/c",
        "k234567890123456789012345678901234567890123456789012345678901234"
      })
  void rejectsKeysThatAreNotLabelKeys(String key) {
    assertThatThrownBy(() -> Tags.key(key))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(key.isEmpty() ? "tag key is empty" : "tag key '" + key + "'");
  }

  @Test
  void rejectsBadValuesNamingThem() {
    assertThatThrownBy(() -> Tags.parse("site=store 17"))
        .hasMessageContaining("tag value 'store 17' of 'site' is invalid");
    assertThatThrownBy(() -> Tags.parse("site=-x")).hasMessageContaining("'-x'");
    assertThatThrownBy(() -> Tags.parse("site=" + "v".repeat(64)))
        .hasMessageContaining("is invalid");
  }

  @Test
  void rejectsTextWithoutEquals() {
    assertThatThrownBy(() -> Tags.parse("site")).hasMessageContaining("'site' is not KEY=VALUE");
  }

  @Test
  void keyGivenTwiceIsAnErrorNotLastWins() {
    assertThatThrownBy(
            () -> Tags.toMap(List.of(new Tags.Tag("site", "a"), new Tags.Tag("site", "b"))))
        .hasMessageContaining("'site' is given twice (site=a and site=b)");
    assertThat(Tags.toMap(List.of(new Tags.Tag("b", "1"), new Tags.Tag("a", "2"))))
        .containsExactly(java.util.Map.entry("b", "1"), java.util.Map.entry("a", "2"));
  }

  @Test
  void formatsSortedByKey() throws Exception {
    JsonNode tags = Json.mapper().readTree("{\"site\":\"s1\",\"role\":\"pos\",\"empty\":\"\"}");
    assertThat(Tags.format(tags)).isEqualTo("empty=,role=pos,site=s1");
    assertThat(Tags.format(Json.mapper().missingNode())).isEmpty();
  }
}
