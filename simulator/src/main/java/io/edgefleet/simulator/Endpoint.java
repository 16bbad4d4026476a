package io.edgefleet.simulator;

import java.net.InetSocketAddress;
import java.net.URI;

/**
 * One URL of the controller as the simulator dials it: the socket address, the TLS host name and
 * the HTTP {@code Host} header.
 *
 * @param url the URL as the bootstrap file names it (without a trailing slash)
 */
record Endpoint(String url, InetSocketAddress remote, String host, String hostHeader) {
  /** The endpoint of an {@code https://host[:port]} URL (port 443 when none is given). */
  static Endpoint of(String url) {
    URI uri = URI.create(url);
    String host = uri.getHost();
    int port = uri.getPort() < 0 ? 443 : uri.getPort();
    return new Endpoint(url, new InetSocketAddress(host, port), host, host + ":" + port);
  }
}
