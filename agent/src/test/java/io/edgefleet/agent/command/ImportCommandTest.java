package io.edgefleet.agent.command;

import static org.assertj.core.api.Assertions.assertThat;

import io.edgefleet.agent.airgap.ImportFeature;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class ImportCommandTest {
  @TempDir Path dir;

  record Run(int code, String out, String err) {}

  private Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream originalOut = System.out;
    PrintStream originalErr = System.err;
    int code;
    try {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      code = new CommandLine(new AgentCommand()).execute(args);
    } finally {
      System.setOut(originalOut);
      System.setErr(originalErr);
    }
    return new Run(
        code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void aRunningAgentGetsTheFileInItsInboxWhole() throws Exception {
    Path state = Files.createDirectories(dir.resolve("state"));
    Path bundle = Files.write(dir.resolve("site.efb"), new byte[] {1, 2, 3});
    Path lockFile = ImportFeature.lockFile(state);
    Files.createDirectories(lockFile.getParent());
    try (FileChannel channel =
            FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock held = channel.lock()) {
      Run r = run("import", "--state", state.toString(), bundle.toString());
      assertThat(r.code()).as(r.err()).isZero();
      assertThat(r.out()).contains("the agent is running");
    }
    List<Path> inbox;
    try (Stream<Path> files = Files.list(ImportFeature.inbox(state))) {
      inbox = files.toList();
    }
    assertThat(inbox).hasSize(1);
    assertThat(inbox.getFirst().getFileName().toString()).endsWith("-site.efb");
    assertThat(Files.readAllBytes(inbox.getFirst())).containsExactly(1, 2, 3);
  }

  @Test
  void aStoppedAgentThatWasNeverEnrolledIsToldWhatToDo() throws Exception {
    Path state = Files.createDirectories(dir.resolve("state"));
    Path bundle = Files.write(dir.resolve("site.efb"), new byte[] {1, 2, 3});
    Run r = run("import", "--state", state.toString(), bundle.toString());
    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).contains("holds no enrolled device").contains("enroll the device once");
  }

  @Test
  void aMissingFileOrStateDirectoryIsAUsageError() throws Exception {
    Path bundle = Files.write(dir.resolve("site.efb"), new byte[] {1});
    Run noFile = run("import", "--state", dir.toString(), dir.resolve("nope.efb").toString());
    assertThat(noFile.code()).isEqualTo(2);
    assertThat(noFile.err()).contains("is not a file");
    Run noState = run("import", "--state", dir.resolve("none").toString(), bundle.toString());
    assertThat(noState.code()).isEqualTo(2);
    assertThat(noState.err()).contains("pass the agent's --state");
  }
}
