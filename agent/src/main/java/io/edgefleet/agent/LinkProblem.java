package io.edgefleet.agent;

import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import java.io.IOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.security.cert.CertificateException;
import java.util.Locale;
import javax.net.ssl.SSLException;

/**
 * Why the controller could not be reached, in words an operator can act on, and whether the cause
 * is the link (nothing arrives: no route, a timeout, a stalled transfer) or the other end (it
 * refused the connection or the TLS handshake). The agent retries the link quickly, since probing a
 * dead link costs the controller nothing, and backs off from a controller that refuses.
 *
 * @param link true when the cause is the network path, not the controller
 */
record LinkProblem(boolean link, String message) {

  /**
   * The JDK reports a refused connection as a {@link ConnectException} without a message around a
   * {@code ClosedChannelException}: any {@code ConnectException} in the chain, when nothing more
   * specific (no route, a timeout) was found, means the far end refused.
   */
  private static boolean refused(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof ConnectException && !(t instanceof NoRouteToHostException)) {
        return true;
      }
    }
    return false;
  }

  /** Describes a failure of an exchange with {@code url}. */
  static LinkProblem of(Throwable error, String url) {
    Throwable e = error;
    while ((e instanceof java.util.concurrent.CompletionException
            || e instanceof java.util.concurrent.ExecutionException)
        && e.getCause() != null) {
      e = e.getCause();
    }
    Throwable pin = e;
    while (pin != null && !(pin instanceof PinnedCaTrustManager.PinMismatchException)) {
      pin = pin.getCause() == pin ? null : pin.getCause();
    }
    if (pin != null) {
      return new LinkProblem(
          false,
          "["
              + AgentException.Code.CA_FINGERPRINT_MISMATCH
              + "] "
              + pin.getMessage()
              + ". Check the bootstrap file: it must come from this controller");
    }
    String unreachable = "[" + AgentException.Code.CONTROLLER_UNREACHABLE + "] ";
    Throwable cause = e;
    // The JDK wraps the socket's own exception; the innermost one says what happened.
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      cause = t;
      if (t instanceof NoRouteToHostException
          || t instanceof UnresolvedAddressException
          || t instanceof UnknownHostException
          || t instanceof HttpTimeoutException
          || t instanceof SocketTimeoutException
          || t instanceof Transfers.Stalled) {
        break;
      }
    }
    String text = String.valueOf(cause.getMessage()).toLowerCase(Locale.ROOT);
    if (cause instanceof Transfers.Stalled s) {
      return new LinkProblem(true, unreachable + s.getMessage());
    }
    if (cause instanceof HttpConnectTimeoutException) {
      return new LinkProblem(
          true,
          unreachable + "connecting to " + url + " timed out (is the link down or very slow?)");
    }
    if (cause instanceof HttpTimeoutException || cause instanceof SocketTimeoutException) {
      return new LinkProblem(true, unreachable + url + " did not answer in time");
    }
    if (cause instanceof NoRouteToHostException || text.contains("no route to host")) {
      return new LinkProblem(true, unreachable + "no route to " + url + " (is the link down?)");
    }
    if (cause instanceof UnresolvedAddressException || cause instanceof UnknownHostException) {
      return new LinkProblem(
          true, unreachable + "cannot resolve the host of " + url + " (is DNS reachable?)");
    }
    if (text.contains("network is unreachable")) {
      return new LinkProblem(
          true, unreachable + "the network is unreachable from here (no route to " + url + ")");
    }
    if (text.contains("connection refused") || refused(e)) {
      return new LinkProblem(
          false,
          unreachable + url + " refused the connection (is the controller running on that port?)");
    }
    if (cause instanceof SSLException || cause instanceof CertificateException) {
      return new LinkProblem(
          false, unreachable + "TLS handshake with " + url + " failed: " + cause.getMessage());
    }
    if (cause instanceof ConnectException
        || text.contains("connection reset")
        || text.contains("broken pipe")
        || text.contains("closed")
        || cause instanceof SocketException
        || cause instanceof IOException) {
      return new LinkProblem(
          true,
          unreachable
              + "the connection to "
              + url
              + " broke ("
              + (cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage())
              + ")");
    }
    return new LinkProblem(false, unreachable + url + " is unreachable: " + cause);
  }
}
