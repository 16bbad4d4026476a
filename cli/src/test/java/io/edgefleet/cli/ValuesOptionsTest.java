package io.edgefleet.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** --values, --set and --set-string, merged and typed as helm does. */
class ValuesOptionsTest {
  @TempDir Path dir;

  private static String json(Object v) throws Exception {
    return new ObjectMapper().writeValueAsString(v);
  }

  private static Map<String, Object> set(String... expressions) {
    return ValuesOptions.merge(List.of(), List.of(expressions), List.of());
  }

  @Test
  void dottedKeysMakeNestedMapsAndValuesAreTypedLikeHelm() throws Exception {
    Map<String, Object> v =
        set(
            "image.tag=1.27,replicaCount=2",
            "debug=true,quiet=FALSE,gone=null,zero=0,octal=0123,neg=-5,float=1.5",
            "list={a,1,true},empty=",
            "nodeSelector.kubernetes\\.io/role=edge",
            "text=a\\,b");

    assertThat(json(v))
        .isEqualTo(
            "{\"image\":{\"tag\":\"1.27\"},\"replicaCount\":2,\"debug\":true,\"quiet\":false,"
                + "\"gone\":null,\"zero\":0,\"octal\":\"0123\",\"neg\":-5,\"float\":\"1.5\","
                + "\"list\":[\"a\",1,true],\"empty\":\"\","
                + "\"nodeSelector\":{\"kubernetes.io/role\":\"edge\"},\"text\":\"a,b\"}");
  }

  @Test
  void setStringKeepsStrings() {
    Map<String, Object> v =
        ValuesOptions.merge(List.of(), List.of("n=1"), List.of("tag=0123", "n=2", "b=true"));

    assertThat(v).isEqualTo(Map.of("n", "2", "tag", "0123", "b", "true"));
  }

  @Test
  void valuesFilesMergeInOrderAndSetWins() throws Exception {
    Path base =
        Files.writeString(
            dir.resolve("base.yaml"),
            "image:\n  repository: nginx\n  tag: '1.26'\nreplicaCount: 1\nlist: [1, 2]\n");
    Path site = Files.writeString(dir.resolve("site.yaml"), "image:\n  tag: '1.27'\nlist: [3]\n");
    Path empty = Files.writeString(dir.resolve("empty.yaml"), "\n");

    Map<String, Object> v =
        ValuesOptions.merge(List.of(base, site, empty), List.of("replicaCount=3"), List.of());

    assertThat(json(v))
        .isEqualTo(
            "{\"image\":{\"repository\":\"nginx\",\"tag\":\"1.27\"},\"replicaCount\":3,"
                + "\"list\":[3]}");
  }

  @Test
  void setReplacesAScalarByAMapWhenItGoesDeeper() {
    Map<String, Object> v = set("a=1", "a.b=2");

    assertThat(v).isEqualTo(Map.of("a", Map.of("b", 2L)));
  }

  @Test
  void badInputIsNamed() throws Exception {
    assertThatThrownBy(() -> set("novalue"))
        .hasMessage("--set 'novalue': 'novalue' is not KEY=VALUE (for example image.tag=1.27)");
    assertThatThrownBy(() -> set("a..b=1")).hasMessageContaining("has an empty part");
    assertThatThrownBy(() -> set("list[0]=1")).hasMessageContaining("list indexes such as list[0]");
    Path list = Files.writeString(dir.resolve("list.yaml"), "- a\n- b\n");
    assertThatThrownBy(() -> ValuesOptions.merge(List.of(list), List.of(), List.of()))
        .hasMessage("values file " + list + " must be a YAML mapping such as 'replicaCount: 2'");
    Path bad = Files.writeString(dir.resolve("bad.yaml"), "a: [unclosed\n");
    assertThatThrownBy(() -> ValuesOptions.merge(List.of(bad), List.of(), List.of()))
        .hasMessageStartingWith("values file " + bad + " is not valid YAML");
    Path missing = dir.resolve("missing.yaml");
    assertThatThrownBy(() -> ValuesOptions.merge(List.of(missing), List.of(), List.of()))
        .hasMessage("values file " + missing + " does not exist");
  }

  @Command(name = "probe")
  static final class Probe implements Runnable {
    @Mixin ValuesOptions values;
    Map<String, Object> seen = new HashMap<>();

    @Override
    public void run() {
      seen = values.values();
    }
  }

  @Test
  void asAMixinBadValuesAreAUsageError() throws Exception {
    Probe ok = new Probe();
    Path f = Files.writeString(dir.resolve("v.yaml"), "a: 1\n");
    int code =
        new CommandLine(ok).execute("-f", f.toString(), "--set", "b=2", "--set-string", "c=3");
    Probe bad = new Probe();
    CommandLine cl = new CommandLine(bad);
    cl.setErr(new java.io.PrintWriter(new java.io.StringWriter()));
    int badCode = cl.execute("--set", "oops");

    assertThat(code).isZero();
    assertThat(ok.seen).isEqualTo(Map.of("a", 1, "b", 2L, "c", "3"));
    assertThat(ok.values.given()).isTrue();
    assertThat(badCode).isEqualTo(2);
  }
}
