package io.edgefleet.e2e.sso;

import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.CookieManager;
import java.net.CookiePolicy;
import java.net.URI;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a person's browser does at the provider's pages, with an HTTP client: cookies, redirects
 * followed one at a time (each is recorded), the login form and the consent form filled in.
 */
final class Browser {
  private final HttpClient http;

  /** Every URL visited, in order. */
  final List<URI> visited = new ArrayList<>();

  record Page(int status, URI uri, String body, Optional<String> location) {}

  Browser(String controllerCaFingerprint) {
    http =
        HttpClient.newBuilder()
            .cookieHandler(new CookieManager(null, CookiePolicy.ACCEPT_ALL))
            .followRedirects(HttpClient.Redirect.NEVER)
            .sslContext(TlsContexts.pinned(new PinnedCaTrustManager(controllerCaFingerprint)))
            .connectTimeout(Duration.ofSeconds(10))
            .build();
  }

  Page get(URI uri) {
    visited.add(uri);
    return send(HttpRequest.newBuilder(uri).header("Accept", "text/html").GET().build());
  }

  Page post(URI uri, Map<String, String> form) {
    visited.add(uri);
    return send(
        HttpRequest.newBuilder(uri)
            .header("Accept", "text/html")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .POST(HttpRequest.BodyPublishers.ofString(form(form)))
            .build());
  }

  private Page send(HttpRequest request) {
    try {
      HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
      return new Page(r.statusCode(), r.uri(), r.body(), r.headers().firstValue("Location"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * Goes to {@code start} and on through redirects, signing in as {@code user} and consenting when
   * asked, until a redirect to a URL {@code stop} accepts (answered without following it) or a page
   * that is neither a login nor a consent form.
   */
  Page signIn(URI start, String user, String password, java.util.function.Predicate<URI> stop) {
    Page page = get(start);
    for (int steps = 0; steps < 20; steps++) {
      if (page.status() / 100 == 3) {
        URI next = page.uri().resolve(page.location().orElseThrow());
        if (stop.test(next)) {
          return page;
        }
        page = get(next);
      } else if (page.status() == 200 && page.body().contains("name=\"password\"")) {
        Map<String, String> form = new LinkedHashMap<>(hidden(page.body()));
        form.put("username", user);
        form.put("password", password);
        page = post(page.uri().resolve(action(page.body())), form);
      } else if (page.status() == 200 && page.body().contains("consent_form")) {
        Map<String, String> form = new LinkedHashMap<>(hidden(page.body()));
        Matcher m = Pattern.compile("name=\"scope\" value=\"([^\"]*)\"").matcher(page.body());
        List<String> all = new ArrayList<>();
        while (m.find()) {
          all.add(m.group(1));
        }
        page = postMulti(page.uri().resolve(action(page.body())), form, "scope", all);
      } else {
        return page;
      }
    }
    throw new AssertionError("too many steps; visited " + visited);
  }

  private Page postMulti(URI uri, Map<String, String> form, String name, List<String> values) {
    StringBuilder body = new StringBuilder(form(form));
    for (String v : values) {
      body.append('&')
          .append(name)
          .append('=')
          .append(URLEncoder.encode(v, StandardCharsets.UTF_8));
    }
    visited.add(uri);
    return send(
        HttpRequest.newBuilder(uri)
            .header("Accept", "text/html")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
            .build());
  }

  private static String action(String html) {
    Matcher m = Pattern.compile("<form[^>]*action=\"([^\"]*)\"").matcher(html);
    if (!m.find()) {
      throw new AssertionError("no form on the page: " + html);
    }
    return m.group(1).replace("&amp;", "&");
  }

  private static Map<String, String> hidden(String html) {
    Map<String, String> out = new LinkedHashMap<>();
    Matcher input = Pattern.compile("<input[^>]*type=\"hidden\"[^>]*>").matcher(html);
    while (input.find()) {
      Matcher name = Pattern.compile("name=\"([^\"]*)\"").matcher(input.group());
      Matcher value = Pattern.compile("value=\"([^\"]*)\"").matcher(input.group());
      if (name.find() && value.find()) {
        out.put(name.group(1), value.group(1).replace("&amp;", "&"));
      }
    }
    return out;
  }

  static String form(Map<String, String> form) {
    StringBuilder sb = new StringBuilder();
    form.forEach(
        (k, v) -> {
          if (sb.length() > 0) {
            sb.append('&');
          }
          sb.append(URLEncoder.encode(k, StandardCharsets.UTF_8))
              .append('=')
              .append(URLEncoder.encode(v, StandardCharsets.UTF_8));
        });
    return sb.toString();
  }

  /** The parameters of a query string or fragment. */
  static Map<String, String> params(String text) {
    Map<String, String> out = new LinkedHashMap<>();
    for (String pair : text.split("&")) {
      int eq = pair.indexOf('=');
      if (eq > 0) {
        out.put(
            URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
            URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
      }
    }
    return out;
  }
}
