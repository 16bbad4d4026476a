package io.edgefleet.testkit.tpm;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.device.tpm.TpmDevice;
import io.edgefleet.device.tpm.TpmTemplates;
import io.edgefleet.testkit.Swtpm;
import java.security.MessageDigest;
import java.security.Signature;
import org.junit.jupiter.api.Test;

/** The same TPM operations over swtpm's Unix socket data channel ({@code unix:///path}). */
class TpmUnixSocketIT {
  @Test
  void signsAndReadsTheEkCertificateOverAUnixSocket() throws Exception {
    try (Swtpm swtpm = Swtpm.startOnUnixSocket();
        TpmDevice tpm = TpmDevice.open(swtpm.endpoint().toString())) {
      assertThat(swtpm.endpoint().getScheme()).isEqualTo("unix");
      byte[] salt = new byte[TpmTemplates.SALT_BYTES];
      byte[] data = "over a unix socket".getBytes();
      byte[] der = tpm.sign(salt, MessageDigest.getInstance("SHA-256").digest(data));
      Signature v = Signature.getInstance("SHA256withECDSA");
      v.initVerify(tpm.devicePublic(salt).toPublicKey());
      v.update(data);
      assertThat(v.verify(der)).isTrue();
      assertThat(tpm.ekPublic().holds(tpm.ekCertificate().getPublicKey())).isTrue();
    }
  }
}
