package io.edgefleet.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import org.eclipse.jgit.api.Git;
import org.eclipse.jgit.api.errors.GitAPIException;

/**
 * A real Git repository in a directory, for tests that commit applications: write files, commit,
 * read the head. Served to the controller as a {@code file://} URL. Not thread-safe.
 */
public final class GitRepo implements AutoCloseable {
  private final Path work;
  private final Git git;

  private GitRepo(Path work, Git git) {
    this.work = work;
    this.git = git;
  }

  /** A new repository with branch {@code main}. */
  public static GitRepo init(Path work) {
    try {
      return new GitRepo(
          work, Git.init().setDirectory(work.toFile()).setInitialBranch("main").call());
    } catch (GitAPIException e) {
      throw new IllegalStateException("cannot create a git repository in " + work, e);
    }
  }

  public String url() {
    return work.toUri().toString();
  }

  public Path work() {
    return work;
  }

  public GitRepo write(String path, String content) {
    try {
      Path p = work.resolve(path);
      Files.createDirectories(p.getParent());
      Files.writeString(p, content);
      return this;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Deletes a file or a directory tree of the work tree. */
  public GitRepo delete(String path) {
    try (Stream<Path> files = Files.walk(work.resolve(path))) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
      return this;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Commits every change of the work tree (additions and deletions) as Ada; returns the SHA. */
  public String commit(String message) {
    try {
      git.add().addFilepattern(".").call();
      git.add().addFilepattern(".").setUpdate(true).call();
      return git.commit()
          .setMessage(message)
          .setAuthor("Ada", "ada@example.com")
          .setCommitter("Ada", "ada@example.com")
          .setSign(false)
          .call()
          .getName();
    } catch (GitAPIException e) {
      throw new IllegalStateException("commit failed", e);
    }
  }

  /** The SHA of {@code main}. */
  public String head() {
    try {
      return git.getRepository().resolve("refs/heads/main").getName();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A Deployment {@code name} with an image the kubelet stand-in makes ready. */
  public static String deployment(String name, int replicas) {
    return """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: %s
        spec:
          replicas: %d
          selector:
            matchLabels: {app: %s}
          template:
            metadata:
              labels: {app: %s}
            spec:
              containers:
                - name: %s
                  image: nginx:1.27
        """
        .formatted(name, replicas, name, name, name);
  }

  /** A ConfigMap {@code name} with one data entry. */
  public static String configMap(String name, String key, String value) {
    return """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: %s
        data:
          %s: "%s"
        """
        .formatted(name, key, value);
  }

  @Override
  public void close() {
    git.close();
  }
}
