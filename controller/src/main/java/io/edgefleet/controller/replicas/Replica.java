package io.edgefleet.controller.replicas;

import java.net.URI;
import java.time.Instant;

/**
 * One controller replica as the directory lists it.
 *
 * @param name how the replica names itself ({@code pid@host}), as in a device's {@code connectedTo}
 * @param url the internal https URL the other replicas reach it at
 * @param heartbeat when it last said it was alive
 */
public record Replica(String name, URI url, Instant heartbeat) {
  public Replica {
    if (name.isBlank()) {
      throw new IllegalArgumentException("a replica has a name");
    }
    if (!"https".equals(url.getScheme()) || url.getHost() == null) {
      throw new IllegalArgumentException("a replica's URL must be https://host[:port], got " + url);
    }
  }
}
