package io.edgefleet.controller.airgap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.ExportManifest;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SignedDesiredState;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Signatures;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExportsTest {
  @TempDir Path dir;
  final KeyPair key = ed25519();
  final Clock clock = Clock.fixed(Instant.parse("2026-12-07T12:00:00Z"), ZoneOffset.UTC);
  final String bundle = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";
  final String bundleDigest = Fingerprints.sha256(bundle.getBytes(StandardCharsets.UTF_8));
  final byte[] blob = "image bytes".getBytes(StandardCharsets.UTF_8);
  final String blobDigest = Fingerprints.sha256(blob);
  final Map<String, Map<String, String>> tags = new LinkedHashMap<>();
  final Map<String, SignedDesiredState> docs = new HashMap<>();
  final Map<String, Path> blobs = new HashMap<>();

  @BeforeEach
  void fleet() throws Exception {
    Path file = dir.resolve("blob");
    Files.write(file, blob);
    blobs.put(blobDigest, file);
    for (String id : List.of("d1", "d2", "d3")) {
      tags.put(id, Map.of("site", id.equals("d3") ? "other" : "ship"));
      docs.put(id, doc(id, 7));
    }
  }

  @Test
  void writesASignedTarInTheDocumentedOrder() throws Exception {
    Exports exports = new Exports(sources(), ExportLimits.defaults(), clock);
    Exports.Plan plan = exports.plan("site=ship", t -> true);
    assertThat(plan.manifest().devices())
        .containsExactly(new ExportManifest.Device("d1", 7), new ExportManifest.Device("d2", 7));
    assertThat(plan.manifest().blobs()).containsExactly(new ArtifactRef(blobDigest, blob.length));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    exports.write(plan, out);

    List<String> names = new ArrayList<>();
    Map<String, byte[]> content = new HashMap<>();
    try (TarArchiveInputStream tar =
        new TarArchiveInputStream(new ByteArrayInputStream(out.toByteArray()))) {
      TarArchiveEntry e;
      while ((e = tar.getNextEntry()) != null) {
        names.add(e.getName());
        content.put(e.getName(), tar.readAllBytes());
      }
    }
    assertThat(names)
        .containsExactly(
            "manifest.json",
            "manifest.sig",
            "devices/d1.json",
            "devices/d2.json",
            "bundles/" + bundleDigest.substring(7),
            "blobs/" + blobDigest.substring(7));
    ExportManifest.Signature sig =
        Json.mapper().readValue(content.get("manifest.sig"), ExportManifest.Signature.class);
    assertThat(Signatures.verify(key.getPublic(), content.get("manifest.json"), sig.signature()))
        .isTrue();
    assertThat(content.get("blobs/" + blobDigest.substring(7))).isEqualTo(blob);
    assertThat(Json.mapper().readValue(content.get("devices/d1.json"), SignedDesiredState.class))
        .isEqualTo(docs.get("d1"));
  }

  @Test
  void refusesAboveTheDeviceAndByteLimitsBeforeWriting() {
    assertThatThrownBy(
            () -> new Exports(sources(), new ExportLimits(1, 1 << 20), clock).plan("*", t -> true))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.EXPORT_TOO_LARGE))
        .hasMessageContaining("3 devices");
    assertThatThrownBy(
            () -> new Exports(sources(), new ExportLimits(10, 100), clock).plan("*", t -> true))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.EXPORT_TOO_LARGE))
        .hasMessageContaining("limit of 100");
  }

  @Test
  void refusesNothingToExportAMissingBlobAndHiddenDevices() {
    Exports exports = new Exports(sources(), ExportLimits.defaults(), clock);
    assertThatThrownBy(() -> exports.plan("site=nowhere", t -> true))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.EXPORT_NO_DEVICES));
    assertThatThrownBy(() -> exports.plan("site=ship", t -> false))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.EXPORT_NO_DEVICES));
    assertThatThrownBy(() -> exports.plan(" ", t -> true))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.VALIDATION_FAILED));
    blobs.clear();
    assertThatThrownBy(() -> exports.plan("site=ship", t -> true))
        .isInstanceOfSatisfying(
            ControllerException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.EXPORT_INCOMPLETE))
        .hasMessageContaining(blobDigest);
  }

  private Exports.Sources sources() {
    return new Exports.Sources() {
      @Override
      public Map<String, Map<String, String>> tags() {
        return tags;
      }

      @Override
      public Optional<SignedDesiredState> document(String deviceId) {
        return Optional.ofNullable(docs.get(deviceId));
      }

      @Override
      public Optional<String> bundle(String digest) {
        return digest.equals(bundleDigest) ? Optional.of(bundle) : Optional.empty();
      }

      @Override
      public java.util.OptionalLong blobSize(String digest) {
        Path file = blobs.get(digest);
        try {
          return file == null
              ? java.util.OptionalLong.empty()
              : java.util.OptionalLong.of(Files.size(file));
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }

      @Override
      public java.io.InputStream openBlob(String digest) throws java.io.IOException {
        return Files.newInputStream(blobs.get(digest));
      }

      @Override
      public ExportManifest.Signature sign(byte[] data) {
        return new ExportManifest.Signature(
            Signatures.keyId(key.getPublic()), Signatures.sign(key.getPrivate(), data));
      }
    };
  }

  private SignedDesiredState doc(String device, long generation) {
    DesiredState.DesiredApp app =
        new DesiredState.DesiredApp("web", "repo", "abc", bundleDigest, bundle.length())
            .withWorkload("container", List.of(new ArtifactRef(blobDigest, blob.length)));
    byte[] payload =
        Json.writeBytes(
            new DesiredState(device, generation, clock.instant(), List.of(app), List.of()));
    return new SignedDesiredState(
        Base64.getEncoder().encodeToString(payload),
        Signatures.sign(key.getPrivate(), payload),
        Signatures.keyId(key.getPublic()));
  }

  private static KeyPair ed25519() {
    try {
      return KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
