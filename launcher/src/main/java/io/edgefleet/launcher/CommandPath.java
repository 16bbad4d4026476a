package io.edgefleet.launcher;

import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The picocli model of one call's command path only. picocli inspects a group and every verb under
 * it by reflection when the group is built, which is most of a short CLI call's time; a call that
 * names its verb ({@code devices list …}) needs the model of that verb alone. The groups on the
 * path are kept as bare commands (their name, summary and {@code --help}) holding the one verb
 * named; a call that names no verb (a group's help, a mistyped verb) gets the whole group, so help
 * and suggestions are unchanged.
 */
final class CommandPath {
  private CommandPath() {}

  /** The command line for {@code command}, called as {@code name}, given the words after it. */
  static CommandLine of(String name, Object command, List<String> rest) {
    Command group = command.getClass().getAnnotation(Command.class);
    if (group == null || group.subcommands().length == 0 || rest.isEmpty()) {
      return new CommandLine(command);
    }
    String word = rest.getFirst();
    for (Class<?> verb : group.subcommands()) {
      Command annotation = verb.getAnnotation(Command.class);
      if (annotation != null && names(annotation).contains(word)) {
        CommandLine path = new CommandLine(bare(name, group, command));
        Object instance = instantiate(verb);
        path.addSubcommand(
            annotation.name(),
            of(annotation.name(), instance, rest.subList(1, rest.size())),
            annotation.aliases());
        return path;
      }
    }
    return new CommandLine(command);
  }

  private static CommandSpec bare(String name, Command group, Object command) {
    CommandSpec spec = CommandSpec.wrapWithoutInspection(command);
    spec.name(name);
    spec.usageMessage().description(group.description());
    spec.addOption(
        OptionSpec.builder("-h", "--help")
            .usageHelp(true)
            .description("Show this help message and exit.")
            .build());
    return spec;
  }

  private static List<String> names(Command annotation) {
    return Stream.concat(Stream.of(annotation.name()), Arrays.stream(annotation.aliases()))
        .toList();
  }

  private static Object instantiate(Class<?> verb) {
    try {
      return CommandLine.defaultFactory().create(verb);
    } catch (Exception e) {
      throw new CommandLine.InitializationException("cannot create " + verb.getName(), e);
    }
  }
}
