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
    r.get("/api/v1/auth/oidc/login", OPEN, c -> redirect(sso.login().toString()));
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
                    c.query("error_description"));
            fragment.put("token", s.token());
            fragment.put("user", s.name());
          } catch (ControllerException e) {
            fragment.put("sso_error", e.code().name());
            fragment.put("message", e.getMessage());
          }
          return redirect("/#" + SingleSignOn.form(fragment));
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

  private static Reply redirect(String location) {
    return new Reply(
        302,
        new Reply.Raw(
            "text/plain; charset=utf-8",
            "",
            ("see " + location.replaceAll("#.*", "#...") + "\n").getBytes(StandardCharsets.UTF_8),
            Map.of(
                "Location",
                location,
                "Cache-Control",
                "no-store",
                "Referrer-Policy",
                "no-referrer")));
  }
}
