package io.edgefleet.agent.airgap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.agent.artifacts.BlobCache;
import io.edgefleet.agent.desiredstate.DesiredStateStore;
import io.edgefleet.device.desiredstate.Refused;
import io.edgefleet.device.desiredstate.TrustedKeys;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.ExportManifest;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.SignedDesiredState;
import io.edgefleet.protocol.tls.Fingerprints;
import io.edgefleet.protocol.tls.Signatures;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BundleImporterTest {
  @TempDir Path dir;
  final KeyPair controller = ed25519();
  final TrustedKeys trusted = TrustedKeys.of(controller.getPublic());
  final String bundle = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";
  final String bundleDigest = Fingerprints.sha256(bundle.getBytes(StandardCharsets.UTF_8));
  final byte[] blob = "an image archive".getBytes(StandardCharsets.UTF_8);
  final String blobDigest = Fingerprints.sha256(blob);
  DesiredStateStore store;
  BlobCache cache;
  BundleImporter importer;

  @BeforeEach
  void open() {
    store = new DesiredStateStore(dir);
    cache = BlobCache.open(dir, 0);
    importer = new BundleImporter(store, cache, BundleImporter.Limits.defaults());
  }

  @Test
  void takesThisDevicesDocumentWithItsBundleAndBlob() throws Exception {
    BundleImporter.Imported i = importer.read(in(bundleFor("dev-1", 5)), "dev-1", trusted, 4);
    assertThat(i.verified().state().generation()).isEqualTo(5);
    assertThat(i.bundles()).isEqualTo(1);
    assertThat(i.blobs()).isEqualTo(1);
    assertThat(store.bundle(bundleDigest)).contains(bundle);
    assertThat(cache.holds(blobDigest, blob.length)).isTrue();
    assertThat(i.summary()).contains("generation 5");
  }

  @Test
  void refusesAnOlderOrEqualGenerationAWrongDeviceAndAnUntrustedKey() {
    assertThatThrownBy(() -> importer.read(in(bundleFor("dev-1", 5)), "dev-1", trusted, 5))
        .isInstanceOf(Refused.class)
        .hasMessageContaining("already holds generation 5");
    assertThatThrownBy(() -> importer.read(in(bundleFor("dev-1", 5)), "dev-2", trusted, 0))
        .isInstanceOf(Refused.class)
        .hasMessageContaining("no desired state for this device (dev-2)")
        .hasMessageContaining("dev-1");
    TrustedKeys other = TrustedKeys.of(ed25519().getPublic());
    assertThatThrownBy(() -> importer.read(in(bundleFor("dev-1", 5)), "dev-1", other, 0))
        .isInstanceOf(Refused.class)
        .hasMessageContaining("does not trust");
    assertThat(cache.find(blobDigest)).isEmpty();
  }

  @Test
  void refusesABlobWhoseBytesDoNotMatchItsSignedDigest() throws Exception {
    byte[] altered = blob.clone();
    altered[0] ^= 1;
    byte[] tar = bundle("dev-1", 5, altered);
    assertThatThrownBy(() -> importer.read(in(tar), "dev-1", trusted, 0))
        .isInstanceOf(Refused.class)
        .hasMessageContaining("artifact " + blobDigest)
        .hasMessageContaining("does not match");
    assertThat(cache.find(blobDigest)).isEmpty();
  }

  @Test
  void refusesAFileThatIsNotAnExportBundleOrIsOutOfOrder() {
    byte[] plain = new Tars().file("devices/dev-1.json", "{}").end();
    assertThatThrownBy(() -> importer.read(in(plain), "dev-1", trusted, 0))
        .isInstanceOf(Refused.class)
        .hasMessageContaining("not an export bundle");
    assertThatThrownBy(
            () -> importer.read(new ByteArrayInputStream(new byte[100]), "dev-1", trusted, 0))
        .isInstanceOf(Refused.class)
        .hasMessageContaining("cut short");
  }

  @Test
  void refusesAManifestAboveItsBoundWithoutReadingIt() {
    BundleImporter small =
        new BundleImporter(store, cache, new BundleImporter.Limits(10, 64, 64, 64));
    assertThatThrownBy(() -> small.read(in(bundleFor("dev-1", 5)), "dev-1", trusted, 0))
        .isInstanceOf(Refused.class)
        .hasMessageContaining("the manifest is")
        .hasMessageContaining("at most 64");
  }

  private byte[] bundleFor(String device, long generation) {
    return bundle(device, generation, blob);
  }

  private byte[] bundle(String device, long generation, byte[] blobBytes) {
    DesiredState.DesiredApp app =
        new DesiredState.DesiredApp("web", "repo", "abc", bundleDigest, bundle.length())
            .withWorkload("container", List.of(new ArtifactRef(blobDigest, blob.length)));
    DesiredState state =
        new DesiredState(device, generation, Instant.now(), List.of(app), List.of());
    byte[] payload = Json.writeBytes(state);
    SignedDesiredState doc =
        new SignedDesiredState(
            Base64.getEncoder().encodeToString(payload),
            Signatures.sign(controller.getPrivate(), payload),
            Signatures.keyId(controller.getPublic()));
    ExportManifest manifest =
        new ExportManifest(
            ExportManifest.FORMAT,
            Instant.now(),
            List.of(new ExportManifest.Device(device, generation)),
            List.of(new ArtifactRef(bundleDigest, bundle.length())),
            List.of(new ArtifactRef(blobDigest, blob.length)));
    byte[] manifestBytes = Json.writeBytes(manifest);
    ExportManifest.Signature sig =
        new ExportManifest.Signature(
            Signatures.keyId(controller.getPublic()),
            Signatures.sign(controller.getPrivate(), manifestBytes));
    return new Tars()
        .file(ExportManifest.MANIFEST, manifestBytes)
        .file(ExportManifest.SIGNATURE, Json.writeBytes(sig))
        .file(ExportManifest.deviceEntry(device), Json.writeBytes(doc))
        .file(ExportManifest.digestEntry(ExportManifest.BUNDLES, bundleDigest), bundle)
        .file(ExportManifest.digestEntry(ExportManifest.BLOBS, blobDigest), blobBytes)
        .end();
  }

  private static ByteArrayInputStream in(byte[] b) {
    return new ByteArrayInputStream(b);
  }

  private static KeyPair ed25519() {
    try {
      return KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
