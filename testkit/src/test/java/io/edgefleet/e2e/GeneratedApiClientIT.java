package io.edgefleet.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.apiclient.ApiClient;
import io.edgefleet.apiclient.ApiException;
import io.edgefleet.apiclient.api.DefaultApi;
import io.edgefleet.apiclient.model.Device;
import io.edgefleet.apiclient.model.DeviceFacts;
import io.edgefleet.apiclient.model.EnrollmentRequest;
import io.edgefleet.apiclient.model.ListDevices200Response;
import io.edgefleet.apiclient.model.RenameDeviceRequest;
import io.edgefleet.device.enrollment.Enrollment;
import io.edgefleet.protocol.tls.PinnedCaTrustManager;
import io.edgefleet.protocol.tls.TlsContexts;
import io.edgefleet.testkit.TestController;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Java client generated from the OpenAPI document at build time works against a running
 * controller: devices enroll through it, and it lists them by selector in pages and renames them.
 */
class GeneratedApiClientIT {
  @TempDir Path dir;
  TestController controller;
  DefaultApi api;

  @BeforeEach
  void start() {
    controller = TestController.start(dir.resolve("controller"));
    String token = controller.controller().adminToken().orElseThrow();
    ApiClient client =
        new ApiClient(
            HttpClient.newBuilder()
                .sslContext(
                    TlsContexts.pinned(new PinnedCaTrustManager(controller.caFingerprint()))),
            ApiClient.createDefaultObjectMapper(),
            controller.url());
    client.setRequestInterceptor(b -> b.header("Authorization", "Bearer " + token));
    api = new DefaultApi(client);
  }

  @AfterEach
  void stop() {
    controller.close();
  }

  @Test
  void theGeneratedClientEnrollsListsInPagesAndRenamesDevices() throws Exception {
    String token = controller.token(Map.of("batch", "b1"), null, false);
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      ids.add(api.enrollDevice(request(token)).getDeviceId());
    }

    List<Device> listed = new ArrayList<>();
    String after = null;
    int pages = 0;
    do {
      ListDevices200Response page =
          api.listDevices("batch=b1", "NEVER_SEEN,ONLINE", 2, after, null, null, null, null);
      listed.addAll(page.getItems());
      after = page.getNext();
      pages++;
    } while (after != null);
    assertThat(pages).isEqualTo(2);
    assertThat(listed).extracting(Device::getId).containsExactlyElementsOf(ids);
    assertThat(listed).extracting(Device::getName).containsExactly("kiosk", "kiosk-2", "kiosk-3");
    assertThat(api.listDevices("*", null, null, null, null, null, null, null).getItems())
        .hasSize(3);
    // Pages by number: sorted, skipped, counted.
    ListDevices200Response second =
        api.listDevices("batch=b1", null, 1, null, "-name", 1, true, null);
    assertThat(second.getTotal()).isEqualTo(3);
    assertThat(second.getItems()).extracting(Device::getName).containsExactly("kiosk-2");
    assertThat(second.getNext()).isNull();
    for (Object[] bad :
        List.of(
            new Object[] {"age", null, "sort must be one of"},
            new Object[] {null, -1, "offset must be"},
            new Object[] {"name", 100_000_000, "offset must be"})) {
      assertThatThrownBy(
              () ->
                  api.listDevices(
                      null, null, 10, null, (String) bad[0], (Integer) bad[1], null, null))
          .isInstanceOfSatisfying(
              ApiException.class,
              e -> {
                assertThat(e.getCode()).isEqualTo(422);
                assertThat(e.getResponseBody())
                    .contains("VALIDATION_FAILED")
                    .contains((String) bad[2]);
              });
    }

    assertThat(api.renameDevice(ids.get(1), new RenameDeviceRequest().name("lobby")).getName())
        .isEqualTo("lobby");
    assertThatThrownBy(() -> api.renameDevice(ids.get(2), new RenameDeviceRequest().name("kiosk")))
        .isInstanceOfSatisfying(
            ApiException.class,
            e -> {
              assertThat(e.getCode()).isEqualTo(409);
              assertThat(e.getResponseBody()).contains("DEVICE_NAME_TAKEN");
            });
    assertThat(api.getControllerInfo().getControllerUrl()).isEqualTo(controller.url());
  }

  private static EnrollmentRequest request(String token) throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return new EnrollmentRequest()
        .token(token)
        .csrPem(Enrollment.csr(g.generateKeyPair()))
        .facts(
            new DeviceFacts()
                .hostname("kiosk")
                .arch("amd64")
                .cpus(1)
                .memoryBytes(1L)
                .diskBytes(1L)
                .os("Linux")
                .agentVersion("test"));
  }
}
