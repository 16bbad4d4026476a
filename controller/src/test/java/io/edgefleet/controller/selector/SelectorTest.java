package io.edgefleet.controller.selector;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class SelectorTest {
  private static final Map<String, String> LARGE_STORE =
      Map.of("site", "s1", "site-size", "large", "env", "prod", "example.com/tier", "edge");

  @ParameterizedTest(name = "''{0}'' matches={1}")
  @CsvSource(
      delimiter = '|',
      value = {
        "site-size=large | true",
        "site-size==large | true",
        "site-size=small | false",
        "site-size!=small | true",
        "site-size!=large | false",
        "missing!=x | true",
        "site-size in (small,large) | true",
        "site-size in (small) | false",
        "missing in (a) | false",
        "site-size notin (small,medium) | true",
        "site-size notin (large) | false",
        "missing notin (a,b) | true",
        "env | true",
        "missing | false",
        "!missing | true",
        "!env | false",
        "env=prod,site=s1 | true",
        "env=prod,site=s2 | false",
        "example.com/tier=edge | true",
        "  env = prod ,  site in ( s1 , s2 )  | true",
        "env=prod,!missing,site-size notin (small) | true"
      })
  void matchesLikeKubernetes(String selector, boolean expected) {
    assertThat(Selector.parse(selector).matches(LARGE_STORE)).isEqualTo(expected);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "   "})
  void emptySelectorMatchesEverything(String text) {
    Selector s = Selector.parse(text);
    assertThat(s.isEverything()).isTrue();
    assertThat(s.matches(Map.of())).isTrue();
    assertThat(s.matches(LARGE_STORE)).isTrue();
    assertThat(s.toString()).isEmpty();
    assertThat(Selector.parse(null)).isEqualTo(Selector.everything());
  }

  @Test
  void emptyValueMeansTheEmptyString() {
    assertThat(Selector.parse("k=").matches(Map.of("k", ""))).isTrue();
    assertThat(Selector.parse("k=").matches(Map.of("k", "x"))).isFalse();
    assertThat(Selector.parse("k=").matches(Map.of())).isFalse();
    assertThat(Selector.parse("k in (a,)").matches(Map.of("k", ""))).isTrue();
  }

  @ParameterizedTest(name = "''{0}'' -> ''{1}''")
  @CsvSource(
      delimiter = '|',
      value = {
        "site=s1 | site=s1",
        "site==s1 | site=s1",
        "b=2,a=1 | a=1,b=2",
        "env in (stage, prod) | env in (prod,stage)",
        "env notin (b,a) | env notin (a,b)",
        "!x,x | x,!x",
        "  a  ,  b!=c | a,b!=c"
      })
  void canonicalFormIsSortedAndStable(String text, String canonical) {
    Selector s = Selector.parse(text);
    assertThat(s.toString()).isEqualTo(canonical);
    assertThat(Selector.parse(s.toString())).isEqualTo(s);
    assertThat(Selector.parse(s.toString()).hashCode()).isEqualTo(s.hashCode());
  }

  @Test
  void requirementsAreExposed() {
    var r = Selector.parse("env in (prod,stage)").requirements();
    assertThat(r).hasSize(1);
    assertThat(r.get(0).key()).isEqualTo("env");
    assertThat(r.get(0).operator()).isEqualTo(Selector.Operator.IN);
    assertThat(r.get(0).values()).containsExactly("prod", "stage");
  }

  @ParameterizedTest(name = "''{0}'' fails naming ''{1}''")
  @CsvSource(
      delimiter = '|',
      value = {
        "site= s1 s2 | expected ',' or the end",
        "site=s1, | expected a requirement after ','",
        ",site=s1 | expected a tag key",
        "site in s1 | expected '(' after 'in'",
        "site in (s1 | expected ',' or ')'",
        "site notin s1 | expected '(' after 'notin'",
        "site > 3 | '<' and '>' are not supported",
        "site=(x) | expected a value for 'site'",
        "-bad=1 | tag key '-bad' is invalid",
        "site=bad value! | expected ',' or the end",
        "site=-x | tag value '-x'",
        "!site=x | expected ',' or the end",
        "a==b==c | expected ',' or the end",
        "site in () s | expected ',' or the end"
      })
  void errorsNameTheBadPart(String text, String message) {
    assertThatThrownBy(() -> Selector.parse(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("invalid selector '" + text + "'")
        .hasMessageContaining(message);
  }

  @ParameterizedTest(name = "''{0}'' is every device")
  @ValueSource(strings = {"", " ", "*", " * "})
  void starAndTheEmptySelectorBothMeanEveryDevice(String text) {
    Selector s = Selector.parse(text);
    assertThat(s.isEverything()).isTrue();
    assertThat(s).isEqualTo(Selector.everything());
    assertThat(s.matches(Map.of())).isTrue();
    assertThat(Selector.parse("target", text).isEverything()).isTrue();
  }

  @Test
  void aRequestsSelectorIsRefusedWithTheFieldAndTheSpellingsOfEveryDevice() {
    assertThatThrownBy(() -> Selector.parse("target", "*,site=a"))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.VALIDATION_FAILED))
        .hasMessageStartingWith("target: invalid selector '*,site=a'")
        .hasMessageEndingWith("(use '*' or '' for every device)");
  }

  @Test
  void errorsSayWhere() {
    assertThatThrownBy(() -> Selector.parse("env=prod,site in s1"))
        .hasMessageContaining("at 's1'")
        .hasMessageContaining("position 18");
    assertThatThrownBy(() -> Selector.parse("env=prod,")).hasMessageContaining("at the end");
  }

  @Test
  void keywordsNeedSpacesOnlyWhereTheyWouldJoinAKey() {
    assertThat(Selector.parse("env in(prod)").toString()).isEqualTo("env in (prod)");
    assertThat(Selector.parse("index=1").toString()).isEqualTo("index=1");
    assertThat(Selector.parse("notinx").toString()).isEqualTo("notinx");
  }
}
