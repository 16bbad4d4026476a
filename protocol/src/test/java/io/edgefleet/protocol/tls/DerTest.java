package io.edgefleet.protocol.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.util.Random;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.ASN1Primitive;
import org.bouncycastle.asn1.ASN1Sequence;
import org.bouncycastle.asn1.DEROctetString;
import org.junit.jupiter.api.Test;

class DerTest {

  @Test
  void objectIdentifiersRoundTripAndMatchAnIndependentEncoder() throws Exception {
    for (String oid :
        new String[] {
          "1.2.840.10045.2.1",
          "1.2.840.10045.4.3.2",
          "1.3.101.112",
          "2.5.4.3",
          "2.999.3",
          "1.2.840.113549.1.1.1",
          "1.3.6.1.4.1.311.21.20"
        }) {
      byte[] ours = Der.oid(oid);
      assertThat(ours).as(oid).isEqualTo(new ASN1ObjectIdentifier(oid).getEncoded());
      assertThat(Der.parse(ours).oid()).isEqualTo(oid);
    }
  }

  @Test
  void lengthsOfEverySizeClassMatchAnIndependentEncoder() throws Exception {
    Random random = new Random(7);
    for (int n : new int[] {0, 1, 127, 128, 255, 256, 65535, 65536, 200_000}) {
      byte[] content = new byte[n];
      random.nextBytes(content);
      byte[] ours = Der.octets(content);
      assertThat(ours).as("length %d", n).isEqualTo(new DEROctetString(content).getEncoded());
      assertThat(Der.parse(ours).content()).isEqualTo(content);
    }
  }

  @Test
  void sequencesOfIntegersAreReadBackByAnIndependentParser() throws Exception {
    byte[] der = Der.sequence(Der.integer(0), Der.integer(-129), Der.integer(1L << 40));
    ASN1Sequence seq = (ASN1Sequence) ASN1Primitive.fromByteArray(der);
    assertThat(((ASN1Integer) seq.getObjectAt(0)).getValue()).isEqualTo(BigInteger.ZERO);
    assertThat(((ASN1Integer) seq.getObjectAt(1)).getValue()).isEqualTo(BigInteger.valueOf(-129));
    assertThat(Der.parse(der).children().get(2).integer()).isEqualTo(BigInteger.valueOf(1L << 40));
  }

  @Test
  void malformedInputIsRefusedWithAReason() {
    assertThatThrownBy(() -> Der.parse(new byte[] {0x30, 0x05, 0x02, 0x01}))
        .hasMessageContaining("longer than its input");
    assertThatThrownBy(() -> Der.parse(new byte[] {0x30, (byte) 0x80, 0, 0}))
        .hasMessageContaining("indefinite");
    assertThatThrownBy(() -> Der.parse(new byte[] {0x04, (byte) 0x84, 1, 0, 0, 0}))
        .hasMessageContaining("too large");
    assertThatThrownBy(() -> Der.parse(new byte[] {0x04, 0x00, 0x04, 0x00}))
        .hasMessageContaining("found 2");
    assertThatThrownBy(() -> Der.parse(new byte[] {0x06, 0x02, 0x2a, (byte) 0x86}).oid())
        .hasMessageContaining("ends inside");
    assertThatThrownBy(() -> Der.parse(Der.integer(1)).expect(Der.SEQUENCE))
        .hasMessageContaining("expected DER tag 0x30, found 0x02");
  }
}
