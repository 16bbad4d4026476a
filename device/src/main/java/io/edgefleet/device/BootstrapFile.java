package io.edgefleet.device;

import io.edgefleet.protocol.Bootstrap;
import io.edgefleet.protocol.json.JsonCodec;
import io.edgefleet.protocol.json.JsonCodecException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reads and validates the bootstrap file written by {@code edgefleet onboarding bootstrap}. */
public final class BootstrapFile {
  /** The file is missing, unreadable or malformed; the message says what to do. */
  public static final class Invalid extends RuntimeException {
    Invalid(String message) {
      super(message);
    }
  }

  private static final long MAX_BYTES = 64 * 1024;

  private BootstrapFile() {}

  /**
   * @throws Invalid if the file cannot be used
   */
  public static Bootstrap read(Path file) {
    String text;
    try {
      if (Files.size(file) > MAX_BYTES) {
        throw invalid(file, "it is larger than 64 KiB; is this really a bootstrap file?");
      }
      text = Files.readString(file);
    } catch (NoSuchFileException e) {
      throw invalid(file, "the file does not exist");
    } catch (IOException e) {
      throw invalid(file, "it cannot be read: " + e.getMessage());
    }
    try {
      Bootstrap b = text.isBlank() ? null : JsonCodec.read(text, Bootstrap.class);
      if (b == null) {
        throw invalid(file, "it is empty");
      }
      return b;
    } catch (JsonCodecException e) {
      String why =
          switch (e.kind()) {
            case REFUSED ->
                e.getCause() instanceof IllegalArgumentException
                    ? e.getCause().getMessage()
                    : e.getMessage();
            case MISMATCH -> e.getMessage();
            case SYNTAX, LIMIT -> "it is not valid JSON (" + e.getMessage() + ")";
          };
      throw invalid(file, why);
    }
  }

  private static Invalid invalid(Path file, String why) {
    return new Invalid(
        "bootstrap file "
            + file
            + " is unusable: "
            + why
            + ". Write a new one with `edgefleet onboarding bootstrap --token <token>`.");
  }
}
