package io.edgefleet.device.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.ServerSocket;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** What the TPM code says when something fails, and its encodings, without a TPM. */
class TpmErrorsTest {
  @Test
  void responseCodesAreNamedAndExplained() {
    TpmException e = TpmException.of("TPM2_Sign", 0x18b);
    assertThat(e.getMessage())
        .isEqualTo(
            "TPM2_Sign failed: TPM_RC_HANDLE (0x18b, handle 1): the handle is not correct for the"
                + " use (no such object?)");
    assertThat(e.responseName()).isEqualTo("TPM_RC_HANDLE");
    assertThat(TpmException.of("TPM2_ActivateCredential", 0x9a2).getMessage())
        .contains("TPM_RC_BAD_AUTH (0x9a2, session 1)");
    assertThat(TpmException.of("TPM2_Quote", 0x2c4).getMessage())
        .contains("TPM_RC_VALUE (0x2c4, parameter 2)");
    assertThat(TpmException.of("TPM2_Startup", 0x100).responseName())
        .isEqualTo("TPM_RC_INITIALIZE");
    assertThat(TpmException.of("TPM2_CreatePrimary", 0x902).responseName())
        .isEqualTo("TPM_RC_OBJECT_MEMORY");
    assertThat(TpmException.of("TPM2_Quote", 0x80280400L).getMessage()).contains("TPM_RC_LAYER_40");
    assertThat(ResponseCodes.retry(0x922)).isTrue();
    assertThat(ResponseCodes.retry(0x18b)).isFalse();
  }

  @Test
  void addressesAreCheckedBeforeAnythingIsOpened() {
    assertThatThrownBy(() -> TpmTransport.open("http://tpm"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("use a device path, tcp://HOST:PORT or unix:///PATH");
    assertThatThrownBy(() -> TpmTransport.open("tcp://localhost"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("needs a host and a port");
    assertThatThrownBy(() -> TpmTransport.open("/nonexistent/tpmrm0"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("there is no TPM device /nonexistent/tpmrm0");
  }

  @Test
  void anOversizedResponseIsRefusedWithoutReadingIt() throws Exception {
    try (ServerSocket server = new ServerSocket(0)) {
      Thread peer =
          Thread.ofVirtual()
              .start(
                  () -> {
                    try (var s = server.accept()) {
                      s.getInputStream().read(new byte[64]);
                      // A header announcing 1 MiB.
                      s.getOutputStream().write(HexFormat.of().parseHex("80010010000000000000"));
                      s.getOutputStream().flush();
                      s.getInputStream().read();
                    } catch (IOException e) {
                      // The client hung up.
                    }
                  });
      try (Tpm tpm = Tpm.open("tcp://127.0.0.1:" + server.getLocalPort())) {
        assertThatThrownBy(() -> tpm.flush(0x80000000))
            .isInstanceOf(TpmException.class)
            .hasMessageContaining("announced a response of 1048576 bytes; at most 8192");
      }
      peer.join();
    }
  }

  @Test
  void tpmSignaturesBecomeDerThatJcaVerifies() throws Exception {
    var g = KeyPairGenerator.getInstance("EC");
    g.initialize(256);
    var kp = g.generateKeyPair();
    Signature s = Signature.getInstance("SHA256withECDSAinP1363Format");
    s.initSign(kp.getPrivate());
    s.update("data".getBytes());
    byte[] rs = s.sign();
    byte[] r = java.util.Arrays.copyOfRange(rs, 0, 32);
    byte[] sv = java.util.Arrays.copyOfRange(rs, 32, 64);
    byte[] tpmt =
        new io.edgefleet.protocol.tpm.TpmBuffer.Writer()
            .u16(0x18)
            .u16(0x0b)
            .sized(r)
            .sized(sv)
            .toBytes();
    Signature v = Signature.getInstance("SHA256withECDSA");
    v.initVerify(kp.getPublic());
    v.update("data".getBytes());
    assertThat(v.verify(EcdsaSignatures.toDer(tpmt))).isTrue();
  }
}
