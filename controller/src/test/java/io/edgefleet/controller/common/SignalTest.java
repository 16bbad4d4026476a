package io.edgefleet.controller.common;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SignalTest {
  @Test
  void everyListenerHearsEachChangeInTheOrderItSubscribed() {
    Signal<String> signal = new Signal<>("git sources");
    List<String> heard = new ArrayList<>();
    signal.subscribe(s -> heard.add("first:" + s));
    signal.subscribe(s -> heard.add("second:" + s));
    signal.seal();

    signal.accept("fleet");

    assertThat(heard).containsExactly("first:fleet", "second:fleet");
  }

  @Test
  void aSealedSignalRefusesListeners() {
    Signal<String> signal = new Signal<>("git sources");
    signal.seal();

    assertThatThrownBy(() -> signal.subscribe(s -> {}))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("git sources");
  }
}
