package io.edgefleet.cli;

import java.util.Optional;
import picocli.CommandLine.Option;

/** A leaf command whose {@code --token} is the API token: all but {@code onboarding bootstrap}. */
abstract class TokenCommand extends ApiCommand {
  @Option(
      names = {"--token", "--api-token"},
      paramLabel = "TOKEN",
      description = "API token of the controller (env EDGEFLEET_TOKEN).")
  String token;

  @Override
  Optional<String> tokenOption() {
    return Optional.ofNullable(token);
  }
}
