package io.edgefleet.cli;

import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code edgefleet completion bash|zsh|fish}: a completion script for the whole command tree. Bash
 * and zsh get picocli's script (zsh runs it through {@code bashcompinit}); fish gets {@code
 * complete} lines for every verb and flag.
 */
@Command(
    name = "completion",
    description = {
      "Print a shell completion script for edgefleet's verbs and flags.",
      "bash: source <(edgefleet completion bash)   (e.g. in ~/.bashrc)",
      "zsh:  source <(edgefleet completion zsh)    (e.g. in ~/.zshrc)",
      "fish: edgefleet completion fish > ~/.config/fish/completions/edgefleet.fish"
    },
    mixinStandardHelpOptions = true)
final class CompletionCommand implements Callable<Integer> {
  enum Shell {
    BASH,
    ZSH,
    FISH
  }

  @Parameters(
      paramLabel = "SHELL",
      converter = ShellConverter.class,
      description = "bash, zsh or fish.")
  Shell shell;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    CommandLine root = spec.root().commandLine();
    String name = root.getCommandName();
    String script =
        switch (shell) {
          case BASH -> AutoComplete.bash(name, root);
          case ZSH ->
              "autoload -U +X compinit && compinit\n"
                  + "autoload -U +X bashcompinit && bashcompinit\n"
                  + AutoComplete.bash(name, root);
          case FISH -> fish(root);
        };
    spec.commandLine().getOut().print(script);
    spec.commandLine().getOut().flush();
    return 0;
  }

  /** {@code complete} lines: each verb after its parent's path, each flag on its command. */
  static String fish(CommandLine root) {
    String name = root.getCommandName();
    StringBuilder out = new StringBuilder("# fish completion for " + name + "\n");
    out.append("complete -c ").append(name).append(" -f\n");
    fish(root, List.of(), out, name);
    return out.toString();
  }

  private static void fish(CommandLine command, List<String> path, StringBuilder out, String name) {
    String condition = condition(path, command);
    command
        .getSubcommands()
        .forEach(
            (verb, sub) ->
                out.append("complete -c ")
                    .append(name)
                    .append(" -n '")
                    .append(condition)
                    .append("' -a ")
                    .append(verb)
                    .append(" -d '")
                    .append(quote(description(sub.getCommandSpec())))
                    .append("'\n"));
    for (OptionSpec option : command.getCommandSpec().options()) {
      if (option.hidden()) {
        continue;
      }
      out.append("complete -c ").append(name).append(" -n '").append(condition).append("'");
      for (String flag : option.names()) {
        out.append(flag.startsWith("--") ? " -l " + flag.substring(2) : " -s " + flag.substring(1));
      }
      if (option.arity().max() > 0) {
        out.append(" -r");
      }
      out.append(" -d '").append(quote(String.join(" ", option.description()))).append("'\n");
    }
    command
        .getSubcommands()
        .forEach(
            (verb, sub) -> {
              List<String> below = new java.util.ArrayList<>(path);
              below.add(verb);
              fish(sub, below, out, name);
            });
  }

  /** Fish's test that the words typed so far are {@code path} and no verb of {@code command}. */
  private static String condition(List<String> path, CommandLine command) {
    StringBuilder c = new StringBuilder();
    if (path.isEmpty()) {
      c.append("__fish_use_subcommand");
    } else {
      for (String word : path) {
        c.append(c.isEmpty() ? "" : "; and ").append("__fish_seen_subcommand_from ").append(word);
      }
      if (!command.getSubcommands().isEmpty()) {
        c.append("; and not __fish_seen_subcommand_from ")
            .append(String.join(" ", command.getSubcommands().keySet()));
      }
    }
    return c.toString();
  }

  private static String description(CommandSpec spec) {
    String[] lines = spec.usageMessage().description();
    return lines.length == 0 ? "" : lines[0];
  }

  private static String quote(String text) {
    return text.replace("\\", "\\\\").replace("'", "\\'");
  }

  /** Accepts bash, zsh and fish in any case. */
  static final class ShellConverter implements CommandLine.ITypeConverter<Shell> {
    @Override
    public Shell convert(String value) {
      try {
        return Shell.valueOf(value.strip().toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new CommandLine.TypeConversionException(
            "'" + value + "' is not a shell: use bash, zsh or fish");
      }
    }
  }
}
