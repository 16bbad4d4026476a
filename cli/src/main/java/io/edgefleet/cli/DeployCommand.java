package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code edgefleet deploy NAME@VERSION --target …}: deploys a catalog app through a rollout. */
@Command(
    name = "deploy",
    description = {
      "Deploy a catalog app version to the devices --target selects.",
      "With values given now, through a phased rollout (--rollout POLICY.yaml; default: every"
          + " device at once)."
    })
final class DeployCommand extends TokenCommand {
  static final String DEPLOYMENTS = "/api/v1/deployments";

  /** Larger than any sensible rollout policy. */
  static final int MAX_POLICY_BYTES = 256 * 1024;

  @Parameters(
      paramLabel = "NAME@VERSION",
      converter = AppRef.Converter.class,
      description = "Catalog app and version, as `apps versions NAME` shows them.")
  AppRef ref;

  @Option(
      names = "--target",
      required = true,
      paramLabel = "SELECTOR",
      description =
          "Devices to deploy to: a selector over tags such as 'site=store-17' or"
              + " 'region in (eu,us)'; '*' or '' for every device.")
  String target;

  @Option(
      names = "--name",
      paramLabel = "NAME",
      converter = Converters.SourceName.class,
      description = "Name of the deployment and of the app on the devices (default: the app name).")
  String name;

  @Option(
      names = "--rollout",
      paramLabel = "POLICY.yaml",
      description = "Rollout policy: canary, waves, thresholds, soak, maintenance windows.")
  Path rollout;

  @Option(
      names = "--keep-in-quarantine",
      description =
          "Keep the app running on devices that are quarantined (their measured boot differs from"
              + " their reference); by default it is stopped there.")
  boolean keepInQuarantine;

  @Option(
      names = "--scope",
      paramLabel = "device|cluster",
      description =
          "device (default): on every device --target selects; cluster: once per K3s cluster,"
              + " on the member applying the cluster's apps.")
  String scope;

  @Mixin ValuesOptions values;

  @Mixin PreflightOptions preflight;

  @Mixin ProjectOption project;

  private String policy;

  @Override
  void validate() {
    policy = readPolicy(rollout, this);
    if (scope != null && !scope.equals("device") && !scope.equals("cluster")) {
      throw badInput(
          "--scope must be 'device' (every device --target selects) or 'cluster' (once per"
              + " cluster); got '"
              + scope
              + "'");
    }
  }

  @Override
  void run(ControllerClient api) {
    ObjectNode body = object().put("app", ref.name()).put("version", ref.version());
    body.put("target", target.strip());
    if (name != null) {
      body.put("name", name);
    }
    body.set("values", json(values.values()));
    if (policy != null) {
      body.put("rollout", policy);
    }
    if (keepInQuarantine) {
      body.put("keepInQuarantine", true);
    }
    if (scope != null) {
      body.put("scope", scope);
    }
    preflight.body(body);
    if (preflight.dryRun) {
      JsonNode plan = api.post(project.path(preflight.path(DEPLOYMENTS)), body);
      print(plan, () -> PreflightOptions.plan(plan));
      return;
    }
    JsonNode created = api.post(project.path(DEPLOYMENTS), body);
    print(created, () -> DeploymentsCommand.details(created, now()));
    JsonNode rolloutNode = created.path("latestRollout");
    if (!rolloutNode.isMissingNode()) {
      note("follow it with: edgefleet rollouts status " + rolloutNode.path("id").asText());
    }
  }

  static String readPolicy(Path file, ApiCommand command) {
    if (file == null) {
      return null;
    }
    try {
      if (Files.size(file) > MAX_POLICY_BYTES) {
        throw command.badInput("rollout policy " + file + " is larger than 256 KiB");
      }
      return Files.readString(file);
    } catch (IOException e) {
      throw command.badInput("cannot read rollout policy " + file + ": " + Formats.problem(e));
    }
  }

  static JsonNode json(Object value) {
    return io.edgefleet.protocol.Json.mapper().valueToTree(value);
  }
}
