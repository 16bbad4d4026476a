package io.edgefleet.controller.sso;

import static io.edgefleet.controller.api.Router.Access.OPEN;

import io.edgefleet.controller.access.AccessControl;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.api.Routes;
import io.edgefleet.controller.common.ControllerException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Single sign-on. Every route is open: they are how a person without a token gets one, and each
 * checks what it is given (a state bound to a started sign-in, or an ID token signed by the
 * provider).
 *
 * <p>The console's callback answers with a redirect to the console whose fragment carries the new
 * token ({@code /#token=...}) or the refusal ({@code /#sso_error=CODE&message=...}): a fragment is
 * never sent to a server nor written to access logs, unlike a query string.
 */
public record SsoRoutes(SingleSignOn sso) implements Routes {

  @Override
  public void register(Router r) {
    r.get("/api/v1/auth/oidc/config", OPEN, c -> Reply.ok(sso.config()));
    r.get(
        "/api/v1/auth/oidc/login",
        OPEN,
        c -> {
          SingleSignOn.Start start = sso.login();
          return redirect(
              start.location().toString(),
              Map.of(
                  "Set-Cookie",
                  SingleSignOn.COOKIE
                      + "="
                      + start.cookie()
                      + "; Path=/api/v1/auth/oidc; Max-Age=600; HttpOnly; Secure;"
                      + " SameSite=Lax"));
        });
    r.get(
        "/api/v1/auth/oidc/callback",
        OPEN,
        c -> {
          Map<String, String> fragment = new LinkedHashMap<>();
          try {
            AccessControl.SignedIn s =
                sso.callback(
                    c.query("code"),
                    c.query("state"),
                    c.query("error"),
                    c.query("error_description"),
                    cookie(c.headers().getOrDefault("cookie", "")));
            fragment.put("token", s.token());
            fragment.put("user", s.name());
          } catch (ControllerException e) {
            fragment.put("sso_error", e.code().name());
            fragment.put("message", e.getMessage());
          }
          return redirect(
              "/#" + SingleSignOn.form(fragment),
              Map.of(
                  "Set-Cookie",
                  SingleSignOn.COOKIE
                      + "=; Path=/api/v1/auth/oidc; Max-Age=0; HttpOnly; Secure; SameSite=Lax"));
        });
    r.post(
        "/api/v1/auth/oidc/token",
        OPEN,
        16 * 1024 + 1024,
        c ->
            Reply.ok(
                SingleSignOn.SignedInView.of(
                    sso.exchange(c.body(SingleSignOn.TokenRequest.class)))));
  }

  private static Reply redirect(String location, Map<String, String> more) {
    Map<String, String> headers = new LinkedHashMap<>(more);
    headers.put("Location", location);
    headers.put("Cache-Control", "no-store");
    headers.put("Referrer-Policy", "no-referrer");
    return new Reply(
        302,
        new Reply.Raw(
            "text/plain; charset=utf-8",
            "",
            ("see " + location.replaceAll("#.*", "#...") + "\n").getBytes(StandardCharsets.UTF_8),
            headers));
  }

  /** The sign-in cookie from a Cookie header. */
  static Optional<String> cookie(String header) {
    for (String part : header.split("[;,]")) {
      String p = part.strip();
      if (p.startsWith(SingleSignOn.COOKIE + "=")) {
        String v = p.substring(SingleSignOn.COOKIE.length() + 1);
        // RFC 2965 clients quote the value.
        if (v.length() >= 2 && v.startsWith("\"") && v.endsWith("\"")) {
          v = v.substring(1, v.length() - 1);
        }
        return v.isEmpty() || v.length() > 100 ? Optional.empty() : Optional.of(v);
      }
    }
    return Optional.empty();
  }
}
