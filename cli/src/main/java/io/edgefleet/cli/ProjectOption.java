package io.edgefleet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine.Option;

/**
 * {@code --project}: the project a new object belongs to, or the one a listing is narrowed to. A
 * user whose roles are held in one project needs it never; one holding roles in several names the
 * project a new object belongs to.
 */
final class ProjectOption {
  @Option(
      names = "--project",
      paramLabel = "PROJECT",
      description =
          "Project: the one a new object belongs to (it then reaches only the project's devices),"
              + " or the one a listing shows; needed when you hold roles in several projects.")
  String project;

  /** The path with {@code project=} added when a project was given. */
  String path(String path) {
    if (project == null || project.isBlank()) {
      return path;
    }
    return path
        + (path.contains("?") ? "&" : "?")
        + "project="
        + URLEncoder.encode(project.strip(), StandardCharsets.UTF_8);
  }

  /** Whether any of the items belongs to a project: a PROJECT column is then worth its width. */
  static boolean any(Iterable<JsonNode> items) {
    for (JsonNode i : items) {
      if (!i.path("project").asText("").isEmpty()) {
        return true;
      }
    }
    return false;
  }

  /** The headers, with {@code project} after the first when {@code shown}. */
  static String[] headers(boolean shown, String... headers) {
    if (!shown) {
      return headers;
    }
    String[] out = new String[headers.length + 1];
    out[0] = headers[0];
    out[1] = "project";
    System.arraycopy(headers, 1, out, 2, headers.length - 1);
    return out;
  }

  /** The cells, with the item's project after the first when {@code shown}. */
  static String[] cells(boolean shown, JsonNode item, String... cells) {
    if (!shown) {
      return cells;
    }
    String[] out = new String[cells.length + 1];
    out[0] = cells[0];
    out[1] = item.path("project").asText("");
    System.arraycopy(cells, 1, out, 2, cells.length - 1);
    return out;
  }
}
