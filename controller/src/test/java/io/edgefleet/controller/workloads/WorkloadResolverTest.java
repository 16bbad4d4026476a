package io.edgefleet.controller.workloads;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.desired.AppCatalog;
import io.edgefleet.controller.render.RenderException;
import io.edgefleet.protocol.ArtifactRef;
import io.edgefleet.protocol.DeviceFacts;
import io.edgefleet.protocol.ErrorCode;
import io.edgefleet.protocol.tls.Fingerprints;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;

/** Classification, resolution and rewriting of rendered workloads, and their errors. */
class WorkloadResolverTest {
  static final String BLOB = digest("an image archive");
  static final String MIRRORED_AMD64 = digest("mirrored amd64 archive");
  static final String MIRRORED_ARM64 = digest("mirrored arm64 archive");
  static final String MANIFEST = digest("a manifest");
  static final String DISK = digest("a disk");
  static final String KERNEL = digest("a kernel");

  /** An artifact catalogue in memory: what the store holds now, replaced on every change. */
  static final class Store implements ArtifactLookup {
    final Map<String, Blob> blobs = new ConcurrentHashMap<>();
    final Map<String, String> images = new ConcurrentHashMap<>();
    volatile Object version = new Object();

    void blob(String digest, long size) {
      blobs.put(digest, new Blob(digest, size, "vm-disk", "amd64"));
      version = new Object();
    }

    void image(String name, String manifest, String arch, String digest, long size) {
      blobs.put(digest, new Blob(digest, size, "image", arch));
      images.put(name + "@" + manifest + " " + arch, digest);
      version = new Object();
    }

    @Override
    public Optional<Blob> blob(String digest) {
      return Optional.ofNullable(blobs.get(digest));
    }

    @Override
    public Optional<Blob> image(String name, String manifestDigest, String arch) {
      return Optional.ofNullable(images.get(name + "@" + manifestDigest + " " + arch))
          .map(blobs::get);
    }

    @Override
    public Object version() {
      return version;
    }
  }

  final Store store = new Store();
  final WorkloadResolver resolver = new WorkloadResolver(store);

  @Test
  void kubernetesObjectsAreLeftAsTheyAre() {
    AppCatalog.Rendered r =
        rendered("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: a\n");
    assertThat(resolver.resolve(r, "amd64")).isSameAs(r);
    // A Kubernetes object that merely mentions the workload API is still Kubernetes.
    AppCatalog.Rendered mentions =
        rendered(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  api: edgefleet.io/v1\n");
    AppCatalog.Rendered out = resolver.resolve(mentions, "amd64");
    assertThat(out.runtime()).isNull();
    assertThat(out.artifacts()).isEmpty();
    assertThat(out.yaml()).isEqualTo(mentions.yaml());
  }

  @Test
  void aContainerByBlobDigestGetsItsRuntimeAndArtifactWithTheStoredSize() {
    store.blob(BLOB, 1234);
    AppCatalog.Rendered r = rendered(container("web", BLOB));
    AppCatalog.Rendered out = resolver.resolve(r, "amd64");
    assertThat(out.runtime()).isEqualTo(DeviceFacts.RUNTIME_CONTAINER);
    assertThat(out.artifacts()).containsExactly(new ArtifactRef(BLOB, 1234));
    assertThat(out.yaml()).isEqualTo(r.yaml());
    assertThat(out.digest()).isEqualTo(r.digest());
  }

  @Test
  void aMissingBlobIsAnErrorNamingItAndTheDocument() {
    AppCatalog.Rendered r = rendered(container("web", BLOB));
    assertThatThrownBy(() -> resolver.resolve(r, "amd64"))
        .isInstanceOfSatisfying(
            RenderException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.WORKLOAD_ARTIFACT_MISSING))
        .hasMessageContaining(BLOB)
        .hasMessageContaining("document 1 (Container web)")
        .hasMessageContaining("edgefleet artifacts push");
  }

  @Test
  void aRegistryReferenceIsRewrittenToTheArchiveMirroredForTheDevicesArchitecture() {
    store.image("registry.example:5000/team/web", MANIFEST, "amd64", MIRRORED_AMD64, 500);
    store.image("registry.example:5000/team/web", MANIFEST, "arm64", MIRRORED_ARM64, 600);
    String ref = "registry.example:5000/team/web@" + MANIFEST;
    AppCatalog.Rendered r = rendered(container("web", ref) + container("side", BLOB));
    store.blob(BLOB, 7);

    AppCatalog.Rendered amd = resolver.resolve(r, "amd64");
    assertThat(amd.runtime()).isEqualTo(DeviceFacts.RUNTIME_CONTAINER);
    assertThat(amd.yaml()).contains("image: \"" + MIRRORED_AMD64 + "\"").doesNotContain(ref);
    assertThat(amd.digest()).isEqualTo(digest(amd.yaml())).isNotEqualTo(r.digest());
    assertThat(amd.artifacts())
        .containsExactly(new ArtifactRef(MIRRORED_AMD64, 500), new ArtifactRef(BLOB, 7));

    // Java's name of the architecture is the registry's.
    AppCatalog.Rendered arm = resolver.resolve(r, "aarch64");
    assertThat(arm.yaml()).contains(MIRRORED_ARM64);
    assertThat(arm.artifacts()).first().isEqualTo(new ArtifactRef(MIRRORED_ARM64, 600));
  }

  @Test
  void anImageNotMirroredSaysToMirrorItAndResolvesOnceItIs() {
    String ref = "registry.example/web@" + MANIFEST;
    AppCatalog.Rendered r = rendered(container("web", ref));
    assertThatThrownBy(() -> resolver.resolve(r, "amd64"))
        .isInstanceOfSatisfying(
            RenderException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.WORKLOAD_ARTIFACT_MISSING))
        .hasMessageContaining("is not mirrored for amd64")
        .hasMessageContaining("edgefleet artifacts mirror " + ref + " --arch amd64");
    // Asked again without a change: the same answer (remembered).
    assertThatThrownBy(() -> resolver.resolve(r, "amd64")).isInstanceOf(RenderException.class);

    // Mirrored for another architecture only: still missing for this one.
    store.image("registry.example/web", MANIFEST, "arm64", MIRRORED_ARM64, 600);
    assertThatThrownBy(() -> resolver.resolve(r, null))
        .hasMessageContaining("is not mirrored for amd64");

    store.image("registry.example/web", MANIFEST, "amd64", MIRRORED_AMD64, 500);
    assertThat(resolver.resolve(r, null).artifacts())
        .containsExactly(new ArtifactRef(MIRRORED_AMD64, 500));
  }

  @Test
  void anImageByTagIsRefusedWithHowToPinIt() {
    AppCatalog.Rendered r = rendered(container("web", "registry.example/team/web:1.0"));
    assertThatThrownBy(() -> resolver.resolve(r, "amd64"))
        .isInstanceOfSatisfying(
            RenderException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.WORKLOAD_INVALID))
        .hasMessageContaining("document 1 (Container web) names its image by tag")
        .hasMessageContaining("by digest only")
        .hasMessageContaining("edgefleet artifacts mirror registry.example/team/web:1.0")
        .hasMessageContaining("registry.example/team/web@sha256:<manifest digest>");
  }

  @Test
  void kubernetesObjectsAndContainersMixedAreRefusedNamingTheDocuments() {
    store.blob(BLOB, 1);
    AppCatalog.Rendered r =
        rendered(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
                + container("web", BLOB));
    assertThatThrownBy(() -> resolver.resolve(r, "amd64"))
        .isInstanceOfSatisfying(
            RenderException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.WORKLOAD_INVALID))
        .hasMessageContaining("Kubernetes objects (1), Containers (1) and VirtualMachines (0)")
        .hasMessageContaining("split them into separate apps");
  }

  @Test
  void anInvalidWorkloadDocumentIsRefusedNamingTheField() {
    AppCatalog.Rendered r =
        rendered(
            "---\napiVersion: edgefleet.io/v1\nkind: Container\nmetadata:\n  name: web\nspec:\n"
                + "  image: \""
                + BLOB
                + "\"\n  restart: sometimes\n");
    assertThatThrownBy(() -> resolver.resolve(r, "amd64"))
        .isInstanceOfSatisfying(
            RenderException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.WORKLOAD_INVALID))
        .hasMessageContaining("documents[0].spec.restart");
  }

  @Test
  void aVirtualMachineListsItsDiskAndKernelAndNamesAMissingOne() {
    store.blob(DISK, 4096);
    String vm =
        "---\napiVersion: edgefleet.io/v1\nkind: VirtualMachine\nmetadata:\n  name: vm1\nspec:\n"
            + "  disk: {image: \""
            + DISK
            + "\", format: qcow2}\n  kernel: \""
            + KERNEL
            + "\"\n  memory: 256Mi\n";
    AppCatalog.Rendered r = rendered(vm);
    assertThatThrownBy(() -> resolver.resolve(r, "amd64"))
        .hasMessageContaining("blob " + KERNEL + " (used by document 1 (VirtualMachine vm1))")
        .hasMessageNotContaining("blob " + DISK);

    store.blob(KERNEL, 99);
    AppCatalog.Rendered out = resolver.resolve(r, "amd64");
    assertThat(out.runtime()).isEqualTo(DeviceFacts.RUNTIME_VM);
    assertThat(out.artifacts())
        .containsExactly(new ArtifactRef(DISK, 4096), new ArtifactRef(KERNEL, 99));
  }

  @Test
  void aChangeOfTheStoreIsNoticedOnce() {
    assertThat(resolver.storeChanged()).isFalse();
    store.blob(BLOB, 1);
    assertThat(resolver.storeChanged()).isTrue();
    assertThat(resolver.storeChanged()).as("nothing changed since").isFalse();
  }

  static String container(String name, String image) {
    return "---\napiVersion: edgefleet.io/v1\nkind: Container\nmetadata:\n  name: "
        + name
        + "\nspec:\n  image: \""
        + image
        + "\"\n";
  }

  static AppCatalog.Rendered rendered(String yaml) {
    return new AppCatalog.Rendered(yaml, digest(yaml));
  }

  static String digest(String text) {
    return Fingerprints.sha256(text.getBytes(StandardCharsets.UTF_8));
  }
}
