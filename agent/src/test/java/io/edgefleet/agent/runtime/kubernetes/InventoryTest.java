package io.edgefleet.agent.runtime.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class InventoryTest {
  private static final ObjectRef NS = new ObjectRef("v1", "Namespace", "", "shop");
  private static final ObjectRef WEB = new ObjectRef("apps/v1", "Deployment", "shop", "web");
  private static final ObjectRef CFG = new ObjectRef("v1", "ConfigMap", "shop", "cfg");
  private static final ObjectRef SVC = new ObjectRef("v1", "Service", "shop", "web");

  @Test
  void roundTripsThroughConfigMapData() {
    Inventory inventory =
        new Inventory(
            List.of(
                new Inventory.Entry(NS, "r12"),
                new Inventory.Entry(WEB, "g3"),
                new Inventory.Entry(CFG, "")),
            "r1",
            "sha256:ab");
    Map<String, String> data = inventory.toData();
    assertThat(data.get("objects"))
        .isEqualTo(
            "v1 Namespace - shop r12\napps/v1 Deployment shop web g3\nv1 ConfigMap shop cfg -\n");
    assertThat(Inventory.fromData(data)).isEqualTo(inventory);
    assertThat(Inventory.fromData(data).complete()).isTrue();
  }

  @Test
  void fieldsFingerprintsShareTheStampColumn() {
    Inventory inventory =
        new Inventory(
            List.of(new Inventory.Entry(WEB, "g3", "f0a1b2"), new Inventory.Entry(CFG, "", "f9")),
            "r1",
            "sha256:ab");
    Map<String, String> data = inventory.toData();
    assertThat(data.get("objects"))
        .isEqualTo("apps/v1 Deployment shop web g3,f0a1b2\nv1 ConfigMap shop cfg -,f9\n");
    assertThat(Inventory.fromData(data)).isEqualTo(inventory);
    assertThat(Inventory.fromData(data).complete()).isTrue();
    // A line of an older agent has no fingerprint.
    assertThat(
            Inventory.fromData(Map.of("objects", "v1 ConfigMap shop cfg r5\n", "digest", "d"))
                .entries())
        .containsExactly(new Inventory.Entry(CFG, "r5", ""));
  }

  @Test
  void damagedDataMakesAnIncompleteInventory() {
    Inventory read =
        Inventory.fromData(
            Map.of(
                "objects", "v1 ConfigMap shop cfg -\ngarbage\n",
                "revision", "r1",
                "digest", "sha256:ab"));
    assertThat(read.refs()).containsExactly(CFG);
    assertThat(read.complete()).isFalse();
    assertThat(Inventory.fromData(Map.of())).isEqualTo(Inventory.empty());
  }

  @Test
  void pruneCandidatesAreWhatTheNextRevisionDropsInReverseOrder() {
    Inventory previous =
        new Inventory(
            List.of(
                new Inventory.Entry(NS, ""),
                new Inventory.Entry(CFG, ""),
                new Inventory.Entry(WEB, ""),
                new Inventory.Entry(SVC, "")),
            "r1",
            "d");
    assertThat(previous.pruneCandidates(List.of(NS, WEB))).containsExactly(SVC, CFG);
    assertThat(previous.pruneCandidates(List.of())).containsExactly(SVC, WEB, CFG, NS);
    assertThat(previous.pruneCandidates(List.of(NS, CFG, WEB, SVC))).isEmpty();
  }

  @Test
  void theSameObjectUnderAnotherApiVersionIsNotPruned() {
    ObjectRef old = new ObjectRef("apps/v1beta2", "Deployment", "shop", "web");
    Inventory previous = new Inventory(List.of(new Inventory.Entry(old, "g1")), "r1", "d");
    assertThat(previous.pruneCandidates(List.of(WEB))).isEmpty();
    // A Service named like the Deployment is a different object.
    assertThat(previous.pruneCandidates(List.of(SVC))).containsExactly(old);
  }

  @Test
  void intendingNamesOldAndNewObjectsAndIsIncomplete() {
    Inventory previous =
        new Inventory(
            List.of(new Inventory.Entry(CFG, "r5"), new Inventory.Entry(WEB, "g2")), "r1", "d");
    Inventory intent = previous.intending(List.of(WEB, SVC));
    assertThat(intent.refs()).containsExactly(CFG, WEB, SVC);
    assertThat(intent.entries().get(1).stamp()).isEqualTo("g2");
    assertThat(intent.complete()).isFalse();
    assertThat(intent.revision()).isEqualTo("r1");
  }
}
