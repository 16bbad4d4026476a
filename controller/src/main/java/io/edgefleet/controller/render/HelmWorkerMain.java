package io.edgefleet.controller.render;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;

/**
 * The render worker: a JVM of its own that owns helm-java and its native Helm library, started by
 * {@link HelmWorker}. Keeping Helm out of the controller's JVM keeps its Go runtime away from the
 * controller's signal handlers (the Go runtime replaces the JVM's SIGTERM and SIGINT handlers, so a
 * controller that loaded it could no longer be stopped), and keeps the library's memory and its
 * per-render native leak in a process that is replaced from time to time.
 *
 * <p>Protocol: one JSON object per line, UTF-8. Standard output carries only answers (everything
 * else printed by Java code goes to standard error). First the worker loads Helm and answers {@code
 * {"id":0,"ok":true,"helm":"<version>"}} (or {@code ok:false} with an {@code error}, then exits
 * with status 2). Then, one at a time:
 *
 * <ul>
 *   <li>{@code {"id":n,"op":"template","chart":DIR,"values":FILE,"name":S,"namespace":S,
 *       "kubeVersion":S?,"out":FILE}}: {@code helm template}; the YAML is written to {@code out}.
 *       The answer is {@code {"id":n,"ok":true,"bytes":N}}; more than {@code maxBytes} (a request
 *       field) of YAML is an error.
 *   <li>{@code {"id":n,"op":"package","chart":DIR,"out":DIR}}: {@code helm package} into {@code
 *       out}; the answer names the archive: {@code {"id":n,"ok":true,"file":PATH}}.
 * </ul>
 *
 * A failure is {@code {"id":n,"ok":false,"error":"<Helm's message>"}}. The worker exits as soon as
 * its standard input closes, even in the middle of a render, so it never outlives the controller,
 * however the controller ends.
 */
public final class HelmWorkerMain {
  /** Exit status when Helm cannot be loaded. */
  static final int EXIT_NO_HELM = 2;

  /** The longest error message sent back; Helm's own are a few hundred characters. */
  static final int MAX_ERROR = 16 << 10;

  private static final ObjectMapper JSON = new ObjectMapper();

  private HelmWorkerMain() {}

  public static void main(String[] args) throws IOException {
    // Answers go to the real standard output; stray prints of libraries must not corrupt them.
    OutputStream answers = new FileOutputStream(FileDescriptor.out);
    System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.err), true));
    ExecutorService renders =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "helm-render");
              t.setDaemon(true);
              return t;
            });
    try {
      String version = renders.submit(() -> Helm.version().call()).get();
      send(answers, ok(0).put("helm", version));
    } catch (Exception | LinkageError e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      send(answers, failure(0, "cannot load Helm: " + cause));
      System.exit(EXIT_NO_HELM);
    }
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      JsonNode request;
      try {
        request = JSON.readTree(line);
      } catch (IOException e) {
        System.err.println("helm worker: ignored a request that is not JSON: " + e.getMessage());
        continue;
      }
      renders.execute(() -> send(answers, answer(request)));
    }
    // The controller closed our input or died: stop now, even if a render is still running. A
    // normal exit lets helm-java delete the library it unpacked; should that hang, halt anyway.
    java.util.Timer halt = new java.util.Timer("helm-halt", true);
    halt.schedule(
        new java.util.TimerTask() {
          @Override
          public void run() {
            Runtime.getRuntime().halt(0);
          }
        },
        5_000);
    System.exit(0);
  }

  private static ObjectNode answer(JsonNode request) {
    long id = request.path("id").asLong();
    try {
      return switch (request.path("op").asText()) {
        case "template" -> template(id, request);
        case "package" -> packageChart(id, request);
        default -> failure(id, "unknown operation '" + request.path("op").asText() + "'");
      };
    } catch (RuntimeException | LinkageError | StackOverflowError e) {
      String m = e.getMessage() == null ? e.toString() : e.getMessage().strip();
      return failure(id, m);
    } catch (IOException e) {
      return failure(id, "cannot write Helm's output: " + e);
    }
  }

  private static ObjectNode template(long id, JsonNode r) throws IOException {
    TemplateCommand template =
        new Helm(Path.of(r.path("chart").asText()))
            .template()
            .withName(r.path("name").asText())
            .withNamespace(r.path("namespace").asText())
            .withValuesFile(Path.of(r.path("values").asText()));
    if (r.hasNonNull("kubeVersion")) {
      template = template.withKubeVersion(r.path("kubeVersion").asText());
    }
    String yaml = template.call();
    byte[] bytes = yaml.getBytes(StandardCharsets.UTF_8);
    long max = r.path("maxBytes").asLong(Long.MAX_VALUE);
    if (bytes.length > max) {
      return failure(
          id,
          "the chart rendered "
              + (bytes.length >> 20)
              + " MiB of YAML; at most "
              + (max >> 20)
              + " MiB is accepted");
    }
    Files.write(Path.of(r.path("out").asText()), bytes);
    return ok(id).put("bytes", bytes.length);
  }

  private static ObjectNode packageChart(long id, JsonNode r) throws IOException {
    Path out = Path.of(r.path("out").asText());
    new Helm(Path.of(r.path("chart").asText())).packageIt().withDestination(out).call();
    try (Stream<Path> written = Files.list(out)) {
      return written
          .filter(p -> p.getFileName().toString().endsWith(".tgz"))
          .findFirst()
          .map(p -> ok(id).put("file", p.toString()))
          .orElseGet(() -> failure(id, "helm package wrote no archive"));
    }
  }

  private static ObjectNode ok(long id) {
    return JSON.createObjectNode().put("id", id).put("ok", true);
  }

  private static ObjectNode failure(long id, String error) {
    String e = error.length() > MAX_ERROR ? error.substring(0, MAX_ERROR) + " …" : error;
    return JSON.createObjectNode().put("id", id).put("ok", false).put("error", e);
  }

  private static synchronized void send(OutputStream out, ObjectNode answer) {
    try {
      out.write(JSON.writeValueAsBytes(answer));
      out.write('\n');
      out.flush();
    } catch (IOException e) {
      // The controller is gone; the input loop sees its end and exits.
    }
  }
}
