package io.edgefleet.bench.tls;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSslServerSessionContext;
import io.netty.handler.ssl.OpenSslSessionTicketKey;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.ReferenceCountUtil;
import java.security.Provider;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManagerFactory;

/**
 * One server-side TLS stack: makes the server's {@link SSLEngine}s for one server context (one
 * controller process, or one replica). The client side is always the JDK's, as the agent's is.
 */
sealed interface ServerStack permits ServerStack.Jsse, ServerStack.Netty {

  /** A new server engine for one connection, set up as the controller sets up Jetty's. */
  SSLEngine newEngine();

  /** Frees what the engine holds outside the Java heap. */
  default void release(SSLEngine engine) {
    engine.closeOutbound();
  }

  /**
   * A JSSE provider's SSLContext: the JDK's own (SunJSSE) or Conscrypt's, given as the provider of
   * {@code SSLContext.getInstance("TLSv1.3", provider)}; key and trust managers are the JDK's in
   * both cases, so the chain check of the device certificate runs in Java either way.
   */
  record Jsse(SSLContext context, boolean conscrypt) implements ServerStack {
    static Jsse create(TlsMaterial m, Optional<Provider> provider) throws Exception {
      return create(m, provider, Optional.empty());
    }

    /** With the device chain's signatures checked by {@code sigProvider}, if given. */
    static Jsse create(TlsMaterial m, Optional<Provider> provider, Optional<String> sigProvider)
        throws Exception {
      SSLContext ctx =
          provider.isPresent()
              ? SSLContext.getInstance("TLSv1.3", provider.get())
              : SSLContext.getInstance("TLSv1.3", "SunJSSE");
      ctx.init(m.serverKeyManagers(), m.trustManagerFactory(sigProvider).getTrustManagers(), null);
      return new Jsse(ctx, provider.isPresent());
    }

    @Override
    public SSLEngine newEngine() {
      SSLEngine e = context.createSSLEngine();
      e.setUseClientMode(false);
      e.setWantClientAuth(true);
      e.setEnabledProtocols(new String[] {"TLSv1.3"});
      if (conscrypt) {
        // Conscrypt leaves session tickets off unless asked (SSL_OP_NO_TICKET).
        org.conscrypt.Conscrypt.setUseSessionTickets(e, true);
      }
      return e;
    }

    @Override
    public void release(SSLEngine engine) {
      engine.closeOutbound();
      try {
        engine.closeInbound();
      } catch (javax.net.ssl.SSLException expected) {
        // no close_notify was exchanged: the benchmark drops the connection
      }
    }
  }

  /**
   * netty-tcnative (BoringSSL) through Netty's OpenSSL {@link SslContext}, reference-counted
   * engines; the device chain is checked by the JDK's PKIX trust manager, called back from native.
   */
  record Netty(SslContext context) implements ServerStack {
    static Netty create(TlsMaterial m, Optional<OpenSslSessionTicketKey> ticketKey)
        throws Exception {
      return create(m, ticketKey, Optional.empty());
    }

    /** With the device chain's signatures checked by {@code sigProvider}, if given. */
    static Netty create(
        TlsMaterial m, Optional<OpenSslSessionTicketKey> ticketKey, Optional<String> sigProvider)
        throws Exception {
      TrustManagerFactory tmf = m.trustManagerFactory(sigProvider);
      SslContext ctx =
          SslContextBuilder.forServer(m.serverKey(), m.serverCert(), m.ca())
              .sslProvider(SslProvider.OPENSSL_REFCNT)
              .protocols("TLSv1.3")
              .trustManager(tmf)
              .clientAuth(ClientAuth.OPTIONAL)
              .build();
      if (ticketKey.isPresent()) {
        // The first key encrypts new tickets; every key given decrypts (rotation keeps the old).
        ((OpenSslServerSessionContext) ctx.sessionContext()).setTicketKeys(ticketKey.get());
      }
      return new Netty(ctx);
    }

    @Override
    public SSLEngine newEngine() {
      return context.newEngine(ByteBufAllocator.DEFAULT);
    }

    @Override
    public void release(SSLEngine engine) {
      engine.closeOutbound();
      ReferenceCountUtil.release(engine);
    }
  }
}
