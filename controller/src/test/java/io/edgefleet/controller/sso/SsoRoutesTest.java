package io.edgefleet.controller.sso;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The sign-in cookie as browsers and RFC 2965 clients send it. */
class SsoRoutesTest {
  @Test
  void theSignInCookieIsFoundAmongOthers() {
    assertThat(SsoRoutes.cookie("")).isEmpty();
    assertThat(SsoRoutes.cookie("a=1; edgefleet_sso=xyz; b=2")).contains("xyz");
    assertThat(SsoRoutes.cookie("$Version=\"1\", edgefleet_sso=\"xyz\";$Path=\"/api\""))
        .contains("xyz");
    assertThat(SsoRoutes.cookie("edgefleet_sso=")).isEmpty();
    assertThat(SsoRoutes.cookie("edgefleet_sso=" + "x".repeat(101))).isEmpty();
    assertThat(SsoRoutes.cookie("other_edgefleet_sso=xyz")).isEmpty();
  }
}
