package io.edgefleet.controller.registry;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AuthChallengeTest {
  @Test
  void aBearerChallengeWithRealmServiceAndScope() {
    List<AuthChallenge> c =
        AuthChallenge.parse(
            "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
                + "scope=\"repository:library/busybox:pull\"");
    assertThat(c).hasSize(1);
    assertThat(c.get(0).scheme()).isEqualTo("bearer");
    assertThat(c.get(0).params())
        .isEqualTo(
            Map.of(
                "realm", "https://auth.docker.io/token",
                "service", "registry.docker.io",
                "scope", "repository:library/busybox:pull"));
  }

  @Test
  void aScopeWithCommasInsideQuotesStaysWhole() {
    AuthChallenge c =
        AuthChallenge.parse(
                "Bearer realm=\"https://r.example/token\", scope=\"repository:a/b:pull,push\"")
            .get(0);
    assertThat(c.param("scope")).contains("repository:a/b:pull,push");
  }

  @Test
  void basicWithARealmAndSchemesInAnyCase() {
    List<AuthChallenge> c = AuthChallenge.parse("BASIC Realm=\"test-registry\"");
    assertThat(c).hasSize(1);
    assertThat(c.get(0).scheme()).isEqualTo("basic");
    assertThat(c.get(0).param("realm")).contains("test-registry");
  }

  @Test
  void severalChallengesInOneHeaderAndUnquotedValues() {
    List<AuthChallenge> c =
        AuthChallenge.parse(
            "Basic realm=x, Bearer realm=https://r.example/token,service=r.example");
    assertThat(c).extracting(AuthChallenge::scheme).containsExactly("basic", "bearer");
    assertThat(c.get(0).params()).isEqualTo(Map.of("realm", "x"));
    assertThat(c.get(1).params())
        .isEqualTo(Map.of("realm", "https://r.example/token", "service", "r.example"));
  }

  @Test
  void escapedQuotesInsideAQuotedValue() {
    AuthChallenge c = AuthChallenge.parse("Bearer realm=\"a \\\"quoted\\\" realm\"").get(0);
    assertThat(c.param("realm")).contains("a \"quoted\" realm");
  }

  @Test
  void emptyMissingOrOversizedHeadersHaveNoChallenge() {
    assertThat(AuthChallenge.parse(null)).isEmpty();
    assertThat(AuthChallenge.parse("")).isEmpty();
    assertThat(AuthChallenge.parse(" , ,")).isEmpty();
    assertThat(AuthChallenge.parse("Bearer realm=\"" + "x".repeat(9000) + "\"")).isEmpty();
  }

  @Test
  void junkBeforeAChallengeDoesNotHideIt() {
    List<AuthChallenge> c =
        AuthChallenge.parse("=junk, @@, Bearer realm=\"https://r.example/t\", service=s");
    assertThat(c).extracting(AuthChallenge::scheme).contains("bearer");
    AuthChallenge bearer =
        c.stream().filter(x -> x.scheme().equals("bearer")).findFirst().orElseThrow();
    assertThat(bearer.param("realm")).contains("https://r.example/t");
    assertThat(bearer.param("service")).contains("s");
  }

  @Test
  void anUnterminatedQuoteEndsTheValueAtTheEnd() {
    AuthChallenge c = AuthChallenge.parse("Bearer realm=\"https://r.example/t").get(0);
    assertThat(c.param("realm")).contains("https://r.example/t");
  }
}
