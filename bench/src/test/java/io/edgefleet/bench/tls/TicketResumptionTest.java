package io.edgefleet.bench.tls;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The benchmark's harness tells a resumed handshake from a full one, and the ticket-key facts the
 * decision record rests on hold: a JSSE or Conscrypt server context accepts only its own tickets;
 * Netty's OpenSSL context accepts another's when both were given the same ticket key.
 */
class TicketResumptionTest {
  private static final int TRIES = 3;
  @TempDir static Path dir;
  static TlsMaterial material;

  @BeforeAll
  static void material() throws Exception {
    System.setProperty("jdk.tls.server.enableSessionTicketExtension", "true");
    material = TlsMaterial.create(dir, TRIES);
  }

  @Test
  void jdkResumesOnTheSameContextOnly() throws Exception {
    ServerStack a = ServerStack.Jsse.create(material, Optional.empty());
    ServerStack b = ServerStack.Jsse.create(material, Optional.empty());
    assertThat(resumed(a, a)).isEqualTo(TRIES);
    assertThat(resumed(a, b)).isZero();
  }

  @Test
  void conscryptResumesOnTheSameContextOnly() throws Exception {
    var provider = Optional.of(org.conscrypt.Conscrypt.newProvider());
    ServerStack a = ServerStack.Jsse.create(material, provider);
    ServerStack b = ServerStack.Jsse.create(material, provider);
    assertThat(resumed(a, a)).isEqualTo(TRIES);
    assertThat(resumed(a, b)).isZero();
  }

  @Test
  void nettyResumesOnAnotherContextWithTheSameTicketKey() throws Exception {
    var key = Optional.of(TlsHandshakeBench.randomKey());
    ServerStack a = ServerStack.Netty.create(material, key);
    ServerStack b = ServerStack.Netty.create(material, key);
    ServerStack own = ServerStack.Netty.create(material, Optional.empty());
    assertThat(resumed(a, b)).isEqualTo(TRIES);
    assertThat(resumed(a, own)).isZero();
  }

  private static int resumed(ServerStack first, ServerStack second) throws Exception {
    return TlsHandshakeBench.resumedCount(material, new EnginePair(), first, second, TRIES);
  }
}
