package io.edgefleet.controller.replicas;

import io.edgefleet.controller.api.Call;
import io.edgefleet.controller.api.Reply;
import io.edgefleet.controller.api.Router;
import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.util.Collection;
import java.util.Map;
import java.util.Optional;
import java.util.StringJoiner;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends an operator's session with a device (logs, port-forward, shell, file copy) to the replica
 * that holds the device's connection. A session needs the device's socket, which only one replica
 * holds; behind a load balancer the operator cannot pick that replica, so the one the request
 * reaches forwards it (see {@link ReplicaForwarder}) once it has authenticated the operator and
 * checked the route's permission. The holder authenticates, checks and audits the request again
 * against the shared database, and serves it.
 *
 * <p>A request is forwarded at most once: a forwarded request carries {@link #FORWARDED_BY} and is
 * served where it arrives, which answers the route's usual "not connected" when the device is not
 * there (any more). Thread-safe.
 */
public final class SessionRouting implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(SessionRouting.class);

  /** The header that marks a forwarded request, naming the replica that forwarded it. */
  public static final String FORWARDED_BY = "X-Edgefleet-Forwarded-By";

  private static final Pattern PARAM = Pattern.compile("\\{([A-Za-z]+)}");

  /** Where a session with a device is served. */
  sealed interface Target {
    /** On this replica: it holds the socket, or no replica does and the route says so. */
    record Here() implements Target {}

    /** On another live replica, which holds the device's socket. */
    record Elsewhere(Replica replica) implements Target {}

    /** The replica named as holder has stopped beating: the device will reconnect elsewhere. */
    record Lost(String replica) implements Target {}
  }

  private final ReplicaDirectory directory;
  private final Function<String, Optional<String>> deviceId;
  private final Predicate<String> connectedHere;
  private final Function<String, Optional<String>> holder;
  private final ReplicaForwarder forwarder;

  /**
   * @param deviceId the id of a device named by id or name; empty for none (the route says so)
   * @param connectedHere whether a device's socket is on this replica
   * @param holder the replica holding a device's socket as far as this one knows
   * @param tls trusts the controller's CA, for the connections to the other replicas
   */
  public SessionRouting(
      ReplicaDirectory directory,
      Function<String, Optional<String>> deviceId,
      Predicate<String> connectedHere,
      Function<String, Optional<String>> holder,
      SSLContext tls) {
    this.directory = directory;
    this.deviceId = deviceId;
    this.connectedHere = connectedHere;
    this.holder = holder;
    this.forwarder = new ReplicaForwarder(tls, directory.name());
  }

  /**
   * Makes the GET routes with these templates (each with a device's {@code {id}}) forward to the
   * device's holder.
   */
  public void route(Router router, Collection<String> templates) {
    for (String template : templates) {
      if (!template.contains("{id}")) {
        throw new IllegalArgumentException(template + " names no device");
      }
      router.wrap("GET", template, handler -> call -> handle(template, handler, call));
    }
  }

  /** Where a session with this device (by id or name) is served. */
  Target target(String device) {
    Optional<String> id = deviceId.apply(device);
    if (id.isEmpty() || connectedHere.test(id.get())) {
      return new Target.Here();
    }
    Optional<String> held = holder.apply(id.get());
    if (held.isEmpty() || held.get().equals(directory.name())) {
      return new Target.Here();
    }
    Optional<Replica> replica;
    try {
      replica = directory.live(held.get());
    } catch (RuntimeException e) {
      throw new ControllerException(
          ErrorCode.UNAVAILABLE,
          "the device is connected to controller replica "
              + held.get()
              + ", but the directory of replicas cannot be read ("
              + e.getMessage()
              + "); try again shortly");
    }
    return replica.<Target>map(Target.Elsewhere::new).orElseGet(() -> new Target.Lost(held.get()));
  }

  private Reply handle(String template, Router.Handler local, Call call) {
    if (call.headers().containsKey(FORWARDED_BY.toLowerCase(java.util.Locale.ROOT))) {
      return local.handle(call);
    }
    String device = call.path("id");
    return switch (target(device)) {
      case Target.Here here -> local.handle(call);
      case Target.Lost lost ->
          throw new ControllerException(
              ErrorCode.DEVICE_NOT_CONNECTED,
              "device "
                  + device
                  + " was connected to controller replica "
                  + lost.replica()
                  + ", which has stopped answering; the device reconnects to another replica"
                  + " within its reconnect backoff: ask again then");
      case Target.Elsewhere elsewhere -> forward(template, elsewhere.replica(), call);
    };
  }

  private Reply forward(String template, Replica to, Call call) {
    String target = pathAndQuery(template, call.pathParams(), call.query());
    boolean socket =
        "websocket".equalsIgnoreCase(call.headers().getOrDefault("upgrade", "").strip());
    LOG.debug("{} goes to replica {} ({})", target, to.name(), socket ? "socket" : "request");
    return socket
        ? forwarder.socket(to, target, call.headers())
        : forwarder.http(to, "GET", target, call.headers());
  }

  /** The route's path with its parameters, and the query, encoded again. */
  static String pathAndQuery(
      String template, Map<String, String> params, Map<String, String> query) {
    Matcher m = PARAM.matcher(template);
    StringBuilder path = new StringBuilder();
    while (m.find()) {
      String value = params.get(m.group(1));
      if (value == null) {
        throw new IllegalArgumentException(template + " without its " + m.group(1));
      }
      m.appendReplacement(
          path, Matcher.quoteReplacement(ReplicaForwarder.encode(value).replace("+", "%20")));
    }
    m.appendTail(path);
    if (query.isEmpty()) {
      return path.toString();
    }
    StringJoiner q = new StringJoiner("&", "?", "");
    query.forEach((k, v) -> q.add(ReplicaForwarder.encode(k) + "=" + ReplicaForwarder.encode(v)));
    return path + q.toString();
  }

  @Override
  public void close() {
    forwarder.close();
  }
}
