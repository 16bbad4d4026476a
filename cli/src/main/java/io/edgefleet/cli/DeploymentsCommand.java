package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.SequencedMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code edgefleet deployments …}: catalog apps deployed to devices. */
@Command(
    name = "deployments",
    description = "List, show, upgrade and remove deployments of catalog apps.",
    subcommands = {
      DeploymentsCommand.ListDeployments.class,
      DeploymentsCommand.Show.class,
      DeploymentsCommand.Upgrade.class,
      DeploymentsCommand.Remove.class
    })
final class DeploymentsCommand {
  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean help;

  static String path(String name) {
    return DeployCommand.DEPLOYMENTS + "/" + ControllerClient.segment(name);
  }

  @Command(name = "list", description = "List deployments with their version and rollout.")
  static final class ListDeployments extends TokenCommand {
    @Mixin ProjectOption project;

    @Override
    void run(ControllerClient api) {
      JsonNode items = api.get(project.path(DeployCommand.DEPLOYMENTS)).path("items");
      printItems(
          items,
          () -> {
            boolean projects = ProjectOption.any(items);
            Table t =
                new Table(
                    ProjectOption.headers(
                        projects, "name", "app", "version", "target", "rollout", "state",
                        "updated"));
            for (JsonNode d : items) {
              JsonNode r = d.path("latestRollout");
              t.row(
                  ProjectOption.cells(
                      projects,
                      d,
                      d.path("name").asText(),
                      d.path("app").asText(),
                      d.path("version").asText(),
                      d.path("target").asText("*")
                          + ("cluster".equals(d.path("scope").asText()) ? " (per cluster)" : ""),
                      r.path("id").asText(""),
                      r.path("state").asText(""),
                      Formats.relative(d, "updatedAt", now())));
            }
            return t.render();
          });
    }
  }

  @Command(name = "show", description = "Show one deployment: version, values, target, rollout.")
  static final class Show extends TokenCommand {
    @Parameters(paramLabel = "NAME", description = "Deployment name.")
    String name;

    @Override
    void run(ControllerClient api) {
      JsonNode d = api.get(path(name));
      print(d, () -> details(d, now()));
    }
  }

  @Command(
      name = "upgrade",
      description = {
        "Change a deployment's version, values, target or rollout policy.",
        "A new version or new values start a new rollout, which supersedes an unfinished one."
      })
  static final class Upgrade extends TokenCommand {
    @Parameters(
        paramLabel = "NAME[@VERSION]",
        description = "Deployment name; NAME@VERSION is short for NAME --version VERSION.")
    String name;

    @Option(names = "--version", paramLabel = "VERSION", description = "New catalog version.")
    String version;

    @Option(names = "--target", paramLabel = "SELECTOR", description = "New target selector.")
    String target;

    @Option(
        names = "--reset-values",
        description = "Start from no values instead of merging --set/--values into the current.")
    boolean resetValues;

    @Option(names = "--rollout", paramLabel = "POLICY.yaml", description = "New rollout policy.")
    Path rollout;

    @Option(
        names = "--keep-in-quarantine",
        negatable = true,
        description =
            "Keep the app running on quarantined devices (--no-keep-in-quarantine: stop it"
                + " there); unchanged when not given.")
    Boolean keepInQuarantine;

    @Mixin ValuesOptions values;

    @Mixin PreflightOptions preflight;

    private String policy;

    @Override
    void validate() {
      policy = DeployCommand.readPolicy(rollout, this);
      int at = name.indexOf('@');
      if (at >= 0) {
        String v = name.substring(at + 1);
        if (at == 0 || v.isBlank() || (version != null && !version.equals(v))) {
          throw badInput(
              "'" + name + "': give the version once, as NAME@VERSION or as --version VERSION");
        }
        version = v;
        name = name.substring(0, at);
      }
    }

    @Override
    void run(ControllerClient api) {
      ObjectNode body = object();
      if (version != null) {
        body.put("version", version);
      }
      if (target != null) {
        body.put("target", target.strip());
      }
      if (!values.values().isEmpty() || resetValues) {
        body.set("values", DeployCommand.json(values.values()));
      }
      if (resetValues) {
        body.put("resetValues", true);
      }
      if (policy != null) {
        body.put("rollout", policy);
      }
      if (keepInQuarantine != null) {
        body.put("keepInQuarantine", keepInQuarantine);
      }
      preflight.body(body);
      if (preflight.dryRun) {
        JsonNode plan = api.post(preflight.path(path(name) + "/upgrade"), body);
        print(plan, () -> PreflightOptions.plan(plan));
        return;
      }
      JsonNode d = api.post(path(name) + "/upgrade", body);
      print(d, () -> details(d, now()));
      JsonNode r = d.path("latestRollout");
      if (!r.isMissingNode()) {
        note("follow it with: edgefleet rollouts status " + r.path("id").asText());
      }
    }
  }

  @Command(
      name = "remove",
      description = "Remove a deployment: its rollout ends and the app leaves every device.")
  static final class Remove extends TokenCommand implements Confirmation.Destructive {
    @Mixin Confirmation confirmation;

    @Override
    public String question() {
      return "Remove deployment " + name + "? The app leaves every device it runs on.";
    }

    @Parameters(paramLabel = "NAME", description = "Deployment name.")
    String name;

    @Override
    void run(ControllerClient api) {
      api.delete(path(name));
      print(object().put("removed", name), () -> "Removed deployment " + name + "\n");
    }
  }

  static String details(JsonNode d, Instant now) {
    SequencedMap<String, String> f = new LinkedHashMap<>();
    f.put("Name", d.path("name").asText());
    f.put("App", d.path("app").asText() + "@" + d.path("version").asText());
    f.put("Revision", d.path("revision").asText());
    if (!d.path("project").asText("").isEmpty()) {
      f.put("Project", d.path("project").asText() + " (its selector is part of the target)");
    }
    f.put("Target", d.path("target").asText("").isBlank() ? "*" : d.path("target").asText());
    if ("cluster".equals(d.path("scope").asText())) {
      f.put("Scope", "cluster (once per cluster, on its applier member)");
    }
    JsonNode values = d.path("values");
    f.put("Values", values.isEmpty() ? "" : values.toString());
    f.put("Rollout policy", d.path("rolloutSummary").asText());
    JsonNode r = d.path("latestRollout");
    if (!r.isMissingNode()) {
      f.put("Rollout", r.path("id").asText() + " " + r.path("state").asText());
      f.put("Why", r.path("reason").asText());
    }
    f.put("Updated", Formats.relative(d, "updatedAt", now));
    return Table.fields(f);
  }
}
