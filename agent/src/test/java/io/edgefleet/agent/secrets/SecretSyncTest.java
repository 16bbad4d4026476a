package io.edgefleet.agent.secrets;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.agent.runtime.SecretStore;
import io.edgefleet.protocol.DesiredState;
import io.edgefleet.protocol.DeviceSecret;
import io.edgefleet.protocol.Json;
import io.edgefleet.protocol.tls.SealedBox;
import io.edgefleet.protocol.tls.SoftwareKeyAgreement;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The secret sync over an in-memory store, with real sealing to a real P-256 key. */
class SecretSyncTest {
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  private final Map<String, Map<String, byte[]>> kept = new TreeMap<>();
  private final Map<String, Long> versions = new TreeMap<>();
  private final List<String> events = new ArrayList<>();
  private final List<String> fetched = new ArrayList<>();
  private final Map<String, String> controller = new TreeMap<>(); // name -> value
  private KeyPair device;
  private KeyPair sealedTo;
  private SecretSync sync;

  private final SecretStore store =
      new SecretStore() {
        @Override
        public void put(String namespace, String name, long version, Map<String, byte[]> data) {
          Map<String, byte[]> copy = new TreeMap<>();
          data.forEach((k, v) -> copy.put(k, v.clone()));
          kept.put(namespace + "/" + name, copy);
          versions.put(namespace + "/" + name, version);
        }

        @Override
        public boolean delete(String namespace, String name) {
          versions.remove(namespace + "/" + name);
          return kept.remove(namespace + "/" + name) != null;
        }

        @Override
        public List<Held> held() {
          List<Held> out = new ArrayList<>();
          versions.forEach(
              (k, v) ->
                  out.add(
                      new Held(
                          k.substring(0, k.indexOf('/')), k.substring(k.indexOf('/') + 1), v)));
          return out;
        }
      };

  @BeforeEach
  void setUp() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    device = g.generateKeyPair();
    sealedTo = device;
    sync = sync(Optional.of(store));
  }

  @AfterEach
  void tearDown() {
    sync.close();
    timer.shutdownNow();
  }

  private SecretSync sync(Optional<SecretStore> s) {
    return new SecretSync(
        s,
        () -> "dev-1",
        () -> new SoftwareKeyAgreement(device.getPrivate()),
        this::fetch,
        Runnable::run,
        timer,
        Duration.ofHours(1),
        (kind, severity, message) -> events.add(kind + ": " + message));
  }

  private DeviceSecret fetch(String name, long version) throws IOException {
    fetched.add(name + "@" + version);
    String value = controller.get(name);
    if (value == null) {
      throw new IOException("the controller refused it: no secret " + name);
    }
    byte[] plain =
        Json.writeBytes(
            Map.of(
                "v", Base64.getEncoder().encodeToString(value.getBytes(StandardCharsets.UTF_8))));
    byte[] sealed =
        SealedBox.seal(
            (ECPublicKey) sealedTo.getPublic(), plain, SealedBox.secretAad("dev-1", name, version));
    return new DeviceSecret(name, version, "ns", Base64.getEncoder().encodeToString(sealed));
  }

  private static DesiredState doc(DesiredState.SecretRef... refs) {
    return new DesiredState("dev-1", 1, Instant.EPOCH, List.of(), List.of(), List.of(refs));
  }

  private String value(String key) {
    return new String(kept.get(key).get("v"), StandardCharsets.UTF_8);
  }

  @Test
  void materialisesFetchesOnlyWhatItLacksAndPrunes() {
    controller.put("a", "alpha");
    controller.put("b", "beta");
    sync.want(
        doc(new DesiredState.SecretRef("a", 1, "ns"), new DesiredState.SecretRef("b", 1, "ns")));
    assertThat(value("ns/a")).isEqualTo("alpha");
    assertThat(value("ns/b")).isEqualTo("beta");
    assertThat(sync.status().get("a").held()).isTrue();

    controller.put("a", "alpha-2");
    sync.want(doc(new DesiredState.SecretRef("a", 2, "ns")));
    assertThat(value("ns/a")).isEqualTo("alpha-2");
    assertThat(kept).doesNotContainKey("ns/b");
    assertThat(fetched).containsExactly("a@1", "b@1", "a@2");
    assertThat(events).anyMatch(e -> e.startsWith("secret-removed: secret b"));
    assertThat(String.join("\n", events)).doesNotContain("alpha");
  }

  @Test
  void quarantineDeletesEverythingUntilTrusted() {
    controller.put("a", "alpha");
    sync.want(doc(new DesiredState.SecretRef("a", 1, "ns")));
    sync.quarantine();
    assertThat(kept).isEmpty();
    sync.want(doc(new DesiredState.SecretRef("a", 1, "ns")));
    assertThat(kept).isEmpty();
    sync.trusted();
    assertThat(value("ns/a")).isEqualTo("alpha");
  }

  @Test
  void aBoxSealedToAnotherKeyIsNeverWritten() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    sealedTo = g.generateKeyPair();
    controller.put("a", "alpha");
    sync.want(doc(new DesiredState.SecretRef("a", 1, "ns")));
    assertThat(kept).isEmpty();
    assertThat(sync.status().get("a").error()).contains("could not be opened");
    assertThat(events).anyMatch(e -> e.startsWith("secret-failed: secret a version 1"));
  }

  @Test
  void aRefusedFetchIsReportedOnceAndTheRestGoesOn() {
    controller.put("b", "beta");
    sync.want(
        doc(new DesiredState.SecretRef("a", 1, "ns"), new DesiredState.SecretRef("b", 1, "ns")));
    sync.request();
    assertThat(value("ns/b")).isEqualTo("beta");
    assertThat(sync.status().get("a").error()).contains("no secret a");
    assertThat(events.stream().filter(e -> e.startsWith("secret-failed"))).hasSize(1);
  }

  @Test
  void aRuntimeWithoutSecretsSaysSo() {
    SecretSync none = sync(Optional.empty());
    none.want(doc(new DesiredState.SecretRef("a", 1, "ns")));
    assertThat(events).singleElement().asString().contains("keeps no secrets");
    assertThat(fetched).isEmpty();
  }
}
