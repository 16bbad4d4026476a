package io.edgefleet.testkit.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.LogWatch;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Container logs as the real API server serves them ({@code pods/log}) from the kubelet stand-in's
 * endpoint: tail, timestamps, since and follow. Local cluster only (a real kubelet serves real
 * logs).
 */
class KubeletStandInLogsIT {
  private static final Pattern STAMPED = Pattern.compile("(\\S+) line (\\d+) of (\\S+)/(\\S+)");

  private static KubeCluster cluster;
  private static KubernetesClient client;
  private static String ns;

  @BeforeAll
  static void cluster() {
    cluster = KubeCluster.shared();
    Assumptions.assumeTrue(cluster.local(), "the kubelet stand-in runs only on the local cluster");
    client = cluster.client();
    ns = cluster.newNamespace("standin-logs");
  }

  @AfterAll
  static void dropNamespace() {
    if (ns != null) {
      cluster.deleteNamespace(ns);
    }
  }

  private Pod runningPod(String name) {
    client
        .pods()
        .inNamespace(ns)
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .withNewSpec()
                .addNewContainer()
                .withName("main")
                .withImage("registry.example/app:1")
                .endContainer()
                .addNewContainer()
                .withName("side")
                .withImage("registry.example/side:1")
                .endContainer()
                .endSpec()
                .build())
        .create();
    return await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> client.pods().inNamespace(ns).withName(name).get(),
            p -> p != null && "Running".equals(p.getStatus().getPhase()));
  }

  @Test
  void theTailIsTheLastLinesOfOneContainerWithTheirTimes() {
    runningPod("tail");
    await().atMost(Duration.ofSeconds(10)).until(() -> log("tail", "side", 100).size() >= 4);

    List<String> lines = log("tail", "side", 3);

    assertThat(lines).hasSize(3);
    List<Long> numbers = new ArrayList<>();
    List<Instant> times = new ArrayList<>();
    for (String line : lines) {
      Matcher m = STAMPED.matcher(line);
      assertThat(m.matches()).as(line).isTrue();
      assertThat(m.group(3)).isEqualTo("tail");
      assertThat(m.group(4)).isEqualTo("side");
      times.add(Instant.parse(m.group(1)));
      numbers.add(Long.parseLong(m.group(2)));
    }
    long n = numbers.getFirst();
    assertThat(numbers).containsExactly(n, n + 1, n + 2);
    assertThat(Duration.between(times.get(0), times.get(2)))
        .isEqualTo(KubeletStandIn.LOG_INTERVAL.multipliedBy(2));
    assertThat(times.getLast()).isBeforeOrEqualTo(Instant.now());
    // Without timestamps, the text alone.
    String plain =
        client.pods().inNamespace(ns).withName("tail").inContainer("main").tailingLines(1).getLog();
    assertThat(plain.strip()).matches("line \\d+ of tail/main");
  }

  @Test
  void sinceTimeLeavesOutEarlierLines() {
    runningPod("since");
    await().atMost(Duration.ofSeconds(10)).until(() -> log("since", "main", 100).size() >= 12);
    List<String> all = log("since", "main", 1000);
    Instant cut = Instant.parse(all.get(all.size() - 6).split(" ")[0]).plusMillis(1);
    String since =
        cut.truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString(); // RFC 3339, seconds

    String text =
        client
            .pods()
            .inNamespace(ns)
            .withName("since")
            .inContainer("main")
            .usingTimestamps()
            .sinceTime(since)
            .getLog();

    Instant from = Instant.parse(since);
    List<String> lines = text.lines().toList();
    assertThat(lines).isNotEmpty();
    assertThat(lines)
        .allSatisfy(l -> assertThat(Instant.parse(l.split(" ")[0])).isAfterOrEqualTo(from));
    String firstKept =
        all.stream().filter(l -> !Instant.parse(l.split(" ")[0]).isBefore(from)).findFirst().get();
    assertThat(lines.getFirst()).isEqualTo(firstKept);
  }

  @Test
  void aFollowedLogGoesOnUntilThePodIsGone() throws Exception {
    runningPod("follow");
    LogWatch watch =
        client
            .pods()
            .inNamespace(ns)
            .withName("follow")
            .inContainer("main")
            .tailingLines(1)
            .watchLog();
    BufferedReader reader =
        new BufferedReader(new InputStreamReader(watch.getOutput(), StandardCharsets.UTF_8));
    List<Long> numbers = new ArrayList<>();
    while (numbers.size() < 4) {
      String line = reader.readLine();
      assertThat(line).isNotNull();
      Matcher m = Pattern.compile("line (\\d+) of follow/main").matcher(line);
      assertThat(m.matches()).as(line).isTrue();
      numbers.add(Long.parseLong(m.group(1)));
    }
    for (int i = 1; i < numbers.size(); i++) {
      assertThat(numbers.get(i)).isEqualTo(numbers.get(i - 1) + 1);
    }

    client.pods().inNamespace(ns).withName("follow").delete();
    CompletableFuture<Void> drained =
        CompletableFuture.runAsync(
            () -> {
              try {
                while (reader.readLine() != null) {
                  // lines written before the pod went
                }
              } catch (java.io.IOException e) {
                // also an end
              }
            });
    await().atMost(Duration.ofSeconds(20)).until(drained::isDone);
    watch.close();
  }

  private List<String> log(String pod, String container, int tail) {
    return client
        .pods()
        .inNamespace(ns)
        .withName(pod)
        .inContainer(container)
        .usingTimestamps()
        .tailingLines(tail)
        .getLog()
        .lines()
        .toList();
  }
}
