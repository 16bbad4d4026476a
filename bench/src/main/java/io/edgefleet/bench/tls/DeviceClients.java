package io.edgefleet.bench.tls;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The devices' side: JDK TLS 1.3 clients (as the agent is), each with its own key and certificate.
 * A client engine made with {@link #fresh} has no session to offer (a full handshake); one made
 * with {@link #returning} offers the session its device got last from a server (a resumption).
 * Whether a handshake was resumed is told by the client's trust manager: it checks the server's
 * chain only in a full handshake.
 */
final class DeviceClients {
  private static final int RETURNING_PORT = 443;

  private final List<SSLContext> freshContexts = new ArrayList<>();
  private final List<SSLContext> returningContexts = new ArrayList<>();
  private final AtomicLong serverChainChecks = new AtomicLong();
  private int nextPort = 1024;
  private int nextDevice;

  /** Clients for the first {@code count} devices of {@code m}. */
  DeviceClients(TlsMaterial m, int count) throws Exception {
    TrustManager[] tms = m.trustManagers();
    for (int i = 0; i < tms.length; i++) {
      if (tms[i] instanceof X509ExtendedTrustManager x) {
        tms[i] = new Counting(x, serverChainChecks);
      }
    }
    for (TlsMaterial.Device d : m.devices().subList(0, Math.min(count, m.devices().size()))) {
      freshContexts.add(context(m, d, tms, 1));
      returningContexts.add(context(m, d, tms, 4));
    }
  }

  /** The next device in turn, over all of them and across batches. */
  int nextDevice() {
    int d = nextDevice;
    nextDevice = (nextDevice + 1) % freshContexts.size();
    return d;
  }

  int size() {
    return freshContexts.size();
  }

  /** A client engine for device {@code i} that has no session to resume. */
  SSLEngine fresh(int i) {
    // The client's session cache is keyed by host and port: a port not used lately has no session.
    nextPort = nextPort >= 60_000 ? 1024 : nextPort + 1;
    return engine(freshContexts.get(i), nextPort);
  }

  /** A client engine for device {@code i} that offers the ticket of its last handshake. */
  SSLEngine returning(int i) {
    return engine(returningContexts.get(i), RETURNING_PORT);
  }

  /** How many times a client has checked a server chain so far (one per full handshake). */
  long serverChainChecks() {
    return serverChainChecks.get();
  }

  private static SSLEngine engine(SSLContext ctx, int port) {
    SSLEngine e = ctx.createSSLEngine(TlsMaterial.SERVER_NAME, port);
    e.setUseClientMode(true);
    e.setEnabledProtocols(new String[] {"TLSv1.3"});
    return e;
  }

  private static SSLContext context(
      TlsMaterial m, TlsMaterial.Device d, TrustManager[] tms, int cacheSize) throws Exception {
    SSLContext ctx = SSLContext.getInstance("TLSv1.3", "SunJSSE");
    ctx.init(m.deviceKeyManagers(d), tms, null);
    ctx.getClientSessionContext().setSessionCacheSize(cacheSize);
    return ctx;
  }

  /** Counts server chain checks, then delegates. */
  private static final class Counting extends X509ExtendedTrustManager {
    private final X509ExtendedTrustManager d;
    private final AtomicLong checks;

    Counting(X509ExtendedTrustManager d, AtomicLong checks) {
      this.d = d;
      this.checks = checks;
    }

    @Override
    public void checkServerTrusted(X509Certificate[] c, String a, SSLEngine e)
        throws CertificateException {
      checks.incrementAndGet();
      d.checkServerTrusted(c, a, e);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] c, String a, Socket s)
        throws CertificateException {
      checks.incrementAndGet();
      d.checkServerTrusted(c, a, s);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] c, String a) throws CertificateException {
      checks.incrementAndGet();
      d.checkServerTrusted(c, a);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] c, String a, SSLEngine e)
        throws CertificateException {
      d.checkClientTrusted(c, a, e);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] c, String a, Socket s)
        throws CertificateException {
      d.checkClientTrusted(c, a, s);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] c, String a) throws CertificateException {
      d.checkClientTrusted(c, a);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return d.getAcceptedIssuers();
    }
  }
}
