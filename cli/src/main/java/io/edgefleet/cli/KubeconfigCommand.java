package io.edgefleet.cli;

import io.edgefleet.protocol.SecureFiles;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code edgefleet kubeconfig DEVICE|CLUSTER}: kubectl through the device's own connection. */
@Command(
    name = "kubeconfig",
    description = {
      "Write a kubeconfig for kubectl through the tunnel: its server is the controller, which"
          + " forwards each request over the device's own connection to the device's (or a"
          + " cluster server's) Kubernetes API.",
      "Requests carry your API token and need tunnels:kubectl; the cluster sees you as"
          + " edgefleet:<name> in the groups edgefleet:<role> (bind them with RBAC).",
      "The kubeconfig holds your token: keep the file private (written with mode 0600)."
    })
final class KubeconfigCommand extends TokenCommand {
  @Parameters(
      index = "0",
      paramLabel = "DEVICE|CLUSTER",
      description = "A device id or a cluster name.")
  String target;

  @Option(
      names = {"-f", "--file"},
      paramLabel = "FILE",
      description = "Write to this file (default: print it).")
  Path file;

  @Option(
      names = "--cluster",
      description = "TARGET is a cluster (default: a device, else a cluster).")
  boolean cluster;

  @Override
  void run(ControllerClient api) {
    String yaml;
    String what;
    if (cluster) {
      yaml = api.getText(clusterPath());
      what = "cluster " + target;
    } else {
      try {
        yaml = api.getText("/api/v1/devices/" + ControllerClient.segment(target) + "/kubeconfig");
        what = "device " + target;
      } catch (CliException e) {
        if (!e.getMessage().contains("(NOT_FOUND)")) {
          throw e;
        }
        try {
          yaml = api.getText(clusterPath());
        } catch (CliException again) {
          if (again.getMessage().contains("(NOT_FOUND)")) {
            throw CliException.failed(
                "no device or cluster named "
                    + target
                    + " that you may see (edgefleet devices list, edgefleet clusters list)");
          }
          throw again;
        }
        what = "cluster " + target;
      }
    }
    if (file == null) {
      out().print(yaml);
      return;
    }
    SecureFiles.writeSecret(file, yaml);
    note("wrote the kubeconfig for " + what + " to " + file);
    note("try: kubectl --kubeconfig " + file + " get pods -A");
  }

  private String clusterPath() {
    return "/api/v1/clusters/" + ControllerClient.segment(target) + "/kubeconfig";
  }
}
