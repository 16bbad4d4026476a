package io.edgefleet.controller.api;

import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.server.Response;

/**
 * Browser hardening on every answer the listener gives: nothing of the controller may be framed by
 * another site (clickjacking), content types are not sniffed, browsers keep to HTTPS for this host,
 * and no referrer leaks an approval link. A page may narrow its own {@code Content-Security-Policy}
 * further.
 */
final class SecurityHeaders {
  /** One year, as browsers' preload lists expect. */
  static final String HSTS = "max-age=31536000";

  private SecurityHeaders() {}

  static void apply(Response response) {
    HttpFields.Mutable h = response.getHeaders();
    h.put("Strict-Transport-Security", HSTS);
    h.put("X-Content-Type-Options", "nosniff");
    h.put("X-Frame-Options", "DENY");
    h.put("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
    h.put("Referrer-Policy", "no-referrer");
  }
}
