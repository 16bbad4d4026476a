package io.edgefleet.agent;

import io.edgefleet.agent.secrets.SecretSync;
import io.edgefleet.protocol.ApiError;
import io.edgefleet.protocol.DeviceApi;
import io.edgefleet.protocol.DeviceSecret;
import io.edgefleet.protocol.json.JsonCodec;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletionException;
import java.util.function.Supplier;

/**
 * Fetches a secret sealed for this device over the device's mutual-TLS channel: {@code GET
 * /device/v1/secrets/{name}?version=}. The answer is held in memory only.
 */
final class SecretFetcher implements SecretSync.Fetcher {
  /** The largest answer taken: a secret holds at most 64 KiB, sealed and base64 a third more. */
  static final int MAX_ANSWER_BYTES = 256 * 1024;

  private final Supplier<Transfers> transfers;
  private final Supplier<String> baseUrl;

  SecretFetcher(Supplier<Transfers> transfers, Supplier<String> baseUrl) {
    this.transfers = transfers;
    this.baseUrl = baseUrl;
  }

  @Override
  public DeviceSecret fetch(String name, long version) throws IOException {
    return fetch(
        DeviceApi.SECRETS
            + URLEncoder.encode(name, StandardCharsets.UTF_8)
            + "?version="
            + version);
  }

  /** The join token of a cluster this device is a member of, sealed like a secret. */
  DeviceSecret clusterToken(String cluster, long version) throws IOException {
    return fetch(
        DeviceApi.CLUSTERS
            + URLEncoder.encode(cluster, StandardCharsets.UTF_8)
            + "/token?version="
            + version);
  }

  private DeviceSecret fetch(String path) throws IOException {
    Transfers t = transfers.get();
    if (t == null) {
      throw new IOException("the device has no certificate yet");
    }
    URI uri = URI.create(baseUrl.get() + path);
    Transfers.Answer a;
    try {
      a = t.exchange(HttpRequest.newBuilder(uri).GET(), MAX_ANSWER_BYTES).join();
    } catch (CompletionException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      throw new IOException(cause.getMessage() == null ? cause.toString() : cause.getMessage(), e);
    }
    if (a.status() != 200) {
      throw new IOException("the controller refused it: " + why(a));
    }
    return JsonCodec.read(a.body(), DeviceSecret.class);
  }

  private static String why(Transfers.Answer a) {
    try {
      ApiError e = JsonCodec.read(a.body(), ApiError.class);
      if (e != null && e.code() != null) {
        return e.message() + " [" + e.code() + "]";
      }
    } catch (IOException | RuntimeException e) {
      // Not our error format.
    }
    return "HTTP " + a.status();
  }
}
