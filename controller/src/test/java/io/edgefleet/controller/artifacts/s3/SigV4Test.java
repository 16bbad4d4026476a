package io.edgefleet.controller.artifacts.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class SigV4Test {
  private static final S3Options.Credentials EXAMPLE =
      new S3Options.Credentials(
          "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", Optional.empty());

  /** The worked example of AWS's S3 documentation: a GET of the first ten bytes of an object. */
  @Test
  void theDocumentedGetObjectExampleSignsToTheDocumentedSignature() {
    Map<String, String> headers =
        new SigV4(EXAMPLE, "us-east-1")
            .sign(
                "GET",
                "examplebucket.s3.amazonaws.com",
                "/test.txt",
                Map.of("Range", "bytes=0-9"),
                SigV4.EMPTY_SHA256,
                ZonedDateTime.of(2013, 5, 24, 0, 0, 0, 0, ZoneOffset.UTC));

    assertThat(headers)
        .containsEntry("x-amz-date", "20130524T000000Z")
        .containsEntry("x-amz-content-sha256", SigV4.EMPTY_SHA256)
        .containsEntry(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                + " SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
                + " Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  }

  @Test
  void aSessionTokenIsSentAndSigned() {
    var temporary =
        new S3Options.Credentials("AKID", "secret", Optional.of("token-from-the-service"));
    Map<String, String> headers =
        new SigV4(temporary, "eu-central-1")
            .sign(
                "HEAD",
                "s3.example:9000",
                "/blobs/sha256/ab",
                Map.of(),
                SigV4.EMPTY_SHA256,
                ZonedDateTime.of(2026, 12, 7, 10, 0, 0, 0, ZoneOffset.UTC));
    assertThat(headers).containsEntry("x-amz-security-token", "token-from-the-service");
    assertThat(headers.get("Authorization"))
        .contains("/20261207/eu-central-1/s3/aws4_request")
        .contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
  }

  @Test
  void pathSegmentsAreEncodedAsS3SignsThem() {
    assertThat(SigV4.encodeSegment("a-z_0.9~")).isEqualTo("a-z_0.9~");
    assertThat(SigV4.encodeSegment("a b+c")).isEqualTo("a%20b%2Bc");
    assertThat(SigV4.encodeSegment("é")).isEqualTo("%C3%A9");
  }

  @Test
  void theSecretNeverShowsInTheOptionsText() {
    var options =
        new S3Options(
            URI.create("https://minio.example:9000"),
            "artifacts",
            "edge",
            null,
            EXAMPLE,
            Optional.empty());
    assertThat(options.toString()).doesNotContain(EXAMPLE.secretAccessKey());
    assertThat(options.prefix()).isEqualTo("edge/");
    assertThat(options.region()).isEqualTo("us-east-1");
    assertThat(options.location()).isEqualTo("https://minio.example:9000/artifacts/edge/");
  }

  @Test
  void badOptionsAreRefusedWithWhatIsExpected() {
    assertThatThrownBy(
            () ->
                new S3Options(
                    URI.create("ftp://x"), "artifacts", "", null, EXAMPLE, Optional.empty()))
        .hasMessageContaining("http(s) URL");
    assertThatThrownBy(
            () ->
                new S3Options(
                    URI.create("https://x/some/path"),
                    "artifacts",
                    "",
                    null,
                    EXAMPLE,
                    Optional.empty()))
        .hasMessageContaining("no path");
    assertThatThrownBy(
            () ->
                new S3Options(
                    URI.create("https://x"), "Bad_Bucket", "", null, EXAMPLE, Optional.empty()))
        .hasMessageContaining("bucket");
    assertThatThrownBy(
            () ->
                new S3Options(
                    URI.create("https://x"), "artifacts", "../up", null, EXAMPLE, Optional.empty()))
        .hasMessageContaining("prefix");
    assertThatThrownBy(
            () ->
                new S3Options(
                    URI.create("http://x"),
                    "artifacts",
                    "",
                    null,
                    EXAMPLE,
                    Optional.of(java.nio.file.Path.of("ca.pem"))))
        .hasMessageContaining("https");
    assertThatThrownBy(() -> new S3Options.Credentials("", "s", Optional.empty()))
        .hasMessageContaining("access key id");
  }
}
