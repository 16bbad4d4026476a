package io.edgefleet.agent.runtime.container;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.agent.runtime.WorkloadDocuments;
import io.edgefleet.protocol.workload.ContainerSpec;
import java.util.List;
import org.junit.jupiter.api.Test;

class PodmanArgsTest {
  static final String IMAGE = "sha256:" + "ab".repeat(32);
  static final PodmanArgs.Limits LIMITS = new PodmanArgs.Limits(2048, 512);

  static ContainerSpec spec(String body) {
    return WorkloadDocuments.read(
            "apiVersion: edgefleet.io/v1\nkind: Container\nmetadata: {name: web}\nspec:\n"
                + "  image: "
                + IMAGE
                + "\n"
                + body)
        .containers()
        .getFirst();
  }

  @Test
  void everyFieldOfTheSpecBecomesItsPodmanOption() {
    ContainerSpec spec =
        spec(
            """
              command: [/bin/httpd, "-f"]
              args: ["-p", "8080", "-h", "/www"]
              env: {ZED: last, ALPHA: "first value"}
              ports: [{host: 18080, container: 8080}, {host: 5353, container: 53, protocol: udp, hostIp: 127.0.0.1}]
              volumes: [{name: data, mountPath: /data}, {hostPath: /etc/ssl, mountPath: /ssl, readOnly: true}]
              resources: {cpus: "0.5", memory: 64Mi}
              devices: [/dev/ttyUSB0, nvidia.com/gpu=all]
              user: "1000:1000"
              workingDir: /srv
            """);
    List<String> args = PodmanArgs.run("shop", spec, LIMITS);
    assertThat(String.join(" ", args))
        .isEqualTo(
            "--name shop_web --pull never --restart no --log-driver k8s-file --log-opt"
                + " max-size=10mb --ulimit nofile=2048:2048 --ulimit nproc=512:512"
                + " --env ALPHA=first value --env ZED=last"
                + " --publish 0.0.0.0:18080:8080/tcp --publish 127.0.0.1:5353:53/udp"
                + " --volume shop_data:/data --volume /etc/ssl:/ssl:ro"
                + " --cpus 0.5 --memory 67108864b --device /dev/ttyUSB0 --device nvidia.com/gpu=all"
                + " --user 1000:1000 --workdir /srv --entrypoint [\"/bin/httpd\",\"-f\"]"
                + " localhost/edgefleet-blob:"
                + "ab".repeat(32)
                + " -p 8080 -h /www");
    // The environment is one argument per variable, even with spaces.
    assertThat(args).contains("ALPHA=first value");
  }

  @Test
  void withoutCommandTheImagesEntrypointStaysAndArgsFollowTheImage() {
    List<String> args = PodmanArgs.run("shop", spec("  args: [echo, hi]\n"), LIMITS);
    assertThat(args).doesNotContain("--entrypoint");
    assertThat(args.subList(args.size() - 3, args.size()))
        .containsExactly("localhost/edgefleet-blob:" + "ab".repeat(32), "echo", "hi");
  }

  @Test
  void theSpecHashFollowsWhatRunsAndNotTheOrderOfTheEnvironment() {
    String a =
        PodmanArgs.specHash(PodmanArgs.run("shop", spec("  env: {A: '1', B: '2'}\n"), LIMITS));
    String b =
        PodmanArgs.specHash(PodmanArgs.run("shop", spec("  env: {B: '2', A: '1'}\n"), LIMITS));
    String c =
        PodmanArgs.specHash(PodmanArgs.run("shop", spec("  env: {A: '1', B: '3'}\n"), LIMITS));
    assertThat(a).isEqualTo(b).isNotEqualTo(c).hasSize(32);
    assertThat(
            PodmanArgs.specHash(PodmanArgs.run("other", spec("  env: {A: '1', B: '2'}\n"), LIMITS)))
        .isNotEqualTo(a);
  }

  @Test
  void namesKeepAppAndWorkloadApart() {
    assertThat(PodmanArgs.containerName("a-b", "c"))
        .isNotEqualTo(PodmanArgs.containerName("a", "b-c"));
    assertThat(PodmanArgs.labels("shop", "web", "r1", "h"))
        .containsExactly(
            "--label", "io.edgefleet.app=shop",
            "--label", "io.edgefleet.workload=web",
            "--label", "io.edgefleet.revision=r1",
            "--label", "io.edgefleet.spec=h");
  }

  @Test
  void jsonArraysAreEscaped() {
    assertThat(PodmanArgs.jsonArray(List.of("sh", "-c", "echo \"a\\b\"\n")))
        .isEqualTo("[\"sh\",\"-c\",\"echo \\\"a\\\\b\\\"\\u000a\"]");
  }

  @Test
  void podmanLoadOutputNamesTheImages() {
    assertThat(Images.loadedNames("Loaded image: localhost/latest:latest\n"))
        .containsExactly("localhost/latest:latest");
    assertThat(Images.loadedNames("Loaded image(s): a:1,b:2\n")).containsExactly("a:1", "b:2");
    assertThat(Images.loadedNames("Loaded image: sha256:abc\n")).containsExactly("sha256:abc");
    assertThat(Images.loadedNames("Getting image source signatures\n")).isEmpty();
  }

  @Test
  void restartPoliciesDecideWhetherAnExitedContainerRunsAgain() {
    java.time.Instant t = java.time.Instant.EPOCH;
    ContainerRuntime.Container failed =
        new ContainerRuntime.Container("id", "web", "r", "h", "exited", 1, t);
    ContainerRuntime.Container done =
        new ContainerRuntime.Container("id", "web", "r", "h", "exited", 0, t);
    ContainerRuntime.Container created =
        new ContainerRuntime.Container("id", "web", "r", "h", "created", 0, t);
    ContainerSpec always = spec("");
    ContainerSpec onFailure = spec("  restart: on-failure\n");
    ContainerSpec never = spec("  restart: never\n");
    assertThat(ContainerRuntime.shouldRun(always, done)).isTrue();
    assertThat(ContainerRuntime.shouldRun(onFailure, failed)).isTrue();
    assertThat(ContainerRuntime.shouldRun(onFailure, done)).isFalse();
    assertThat(ContainerRuntime.shouldRun(never, failed)).isFalse();
    assertThat(ContainerRuntime.shouldRun(never, created)).isTrue();
  }

  @Test
  void logsAskPodmanForTimesTailSinceAndFollow() {
    assertThat(
            ContainerLogs.args(
                "shop_web",
                new io.edgefleet.agent.runtime.WorkloadRuntime.LogQuery(
                    50, true, java.time.Instant.parse("2026-01-02T03:04:05.123Z"))))
        .containsExactly(
            "logs",
            "--timestamps",
            "--tail",
            "50",
            "--since",
            "2026-01-02T03:04:05.123Z",
            "--follow",
            "shop_web");
  }

  @Test
  void aStorageDirectoryGivesPodmanItsOwnRootAndRunRoot() {
    ContainerRuntime.Options o = ContainerRuntime.Options.defaults();
    assertThat(o.base()).containsExactly("podman");
    assertThat(o.withStorage(java.nio.file.Path.of("/var/lib/edgefleet/podman")).base())
        .containsExactly(
            "podman",
            "--root",
            "/var/lib/edgefleet/podman/root",
            "--runroot",
            "/var/lib/edgefleet/podman/run");
    assertThat(o.nofile()).isBetween(1L, 65536L);
    assertThat(o.nproc()).isBetween(1L, 4096L);
  }
}
