package io.edgefleet.controller.stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.edgefleet.controller.common.ControllerException;
import io.edgefleet.protocol.ErrorCode;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The hub's bounds and fan-out, with a scripted source and ticks driven by the test. */
class StreamHubTest {
  static final Duration SHORT = Duration.ofMillis(1);

  final List<StreamMessage> pending = new CopyOnWriteArrayList<>();
  final AtomicInteger looks = new AtomicInteger();
  final AtomicInteger resets = new AtomicInteger();

  final ChangeSource source =
      new ChangeSource() {
        @Override
        public List<StreamMessage> current() {
          return List.of(new StreamMessage(Topic.SUMMARY, "summary", null, "{\"total\":1}"));
        }

        @Override
        public List<StreamMessage> changes() {
          looks.incrementAndGet();
          List<StreamMessage> out = new ArrayList<>(pending);
          pending.clear();
          return out;
        }

        @Override
        public void reset() {
          resets.incrementAndGet();
        }
      };

  final StreamHub hub =
      new StreamHub(
          source,
          Clock.fixed(Instant.parse("2026-12-01T00:00:00Z"), ZoneOffset.UTC),
          new StreamHub.Limits(3, 4, Duration.ofHours(1), Duration.ofSeconds(15)));

  @AfterEach
  void close() {
    hub.close();
  }

  static StreamMessage take(Subscription s) throws InterruptedException {
    return s.next(SHORT).orElseThrow(() -> new AssertionError("no message waiting"));
  }

  @Test
  void aStreamStartsWithHelloAndTheSummaryThenGetsOnlyItsTopics() throws Exception {
    Subscription all = hub.open(EnumSet.allOf(Topic.class));
    Subscription events = hub.open(Topic.parse(Optional.of("events")));
    StreamMessage hello = take(all);
    assertThat(hello.event()).isEqualTo("hello");
    assertThat(hello.data())
        .isEqualTo(
            "{\"serverTime\":\"2026-12-01T00:00:00Z\","
                + "\"topics\":[\"summary\",\"devices\",\"rollouts\",\"events\"]}");
    assertThat(take(all).event()).isEqualTo("summary");
    assertThat(take(events).data()).contains("[\"events\"]");
    assertThat(events.next(SHORT)).as("no summary: not asked for").isEmpty();

    pending.add(new StreamMessage(Topic.DEVICES, "device", null, "{\"id\":\"d1\"}"));
    pending.add(new StreamMessage(Topic.EVENTS, "fleet-event", "e1", "{\"id\":\"e1\"}"));
    hub.tick();
    assertThat(take(all).event()).isEqualTo("device");
    assertThat(take(all).id()).isEqualTo("e1");
    assertThat(take(events).bytes())
        .asString()
        .isEqualTo("event: fleet-event\nid: e1\ndata: {\"id\":\"e1\"}\n\n");
    assertThat(events.next(SHORT)).isEmpty();
    assertThat(looks).as("one look for all streams").hasValue(1);
  }

  @Test
  void streamsAreBoundedAndAClosedOneFreesItsPlace() {
    List<Subscription> open = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      open.add(hub.open(Set.of(Topic.SUMMARY)));
    }
    assertThatThrownBy(() -> hub.open(Set.of(Topic.SUMMARY)))
        .isInstanceOf(ControllerException.class)
        .hasMessageContaining("3 streams are open")
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.TOO_MANY_STREAMS);
    assertThat(ErrorCode.TOO_MANY_STREAMS.httpStatus()).isEqualTo(429);
    open.getFirst().close();
    assertThat(hub.openStreams()).isEqualTo(2);
    assertThat(hub.open(Set.of(Topic.SUMMARY))).isNotNull();
  }

  @Test
  void aClientThatReadsTooSlowlyIsEndedAndNothingIsLookedAtWithoutStreams() throws Exception {
    Subscription slow = hub.open(EnumSet.allOf(Topic.class));
    Subscription fast = hub.open(EnumSet.allOf(Topic.class));
    for (int i = 0; i < 3; i++) {
      pending.add(new StreamMessage(Topic.DEVICES, "device", null, "{\"n\":" + i + "}"));
      hub.tick();
      while (fast.next(SHORT).isPresent()) {
        // keeps up
      }
    }
    assertThat(slow.ended()).hasValue("the client read too slowly");
    assertThatThrownBy(() -> slow.next(SHORT)).isInstanceOf(Subscription.StreamEnded.class);
    assertThat(fast.ended()).isEmpty();
    assertThat(hub.openStreams()).isEqualTo(1);

    fast.close();
    hub.tick();
    int before = looks.get();
    hub.tick();
    assertThat(looks).as("no stream, no look").hasValue(before);
    assertThat(resets).as("the baseline is dropped").hasValue(1);
  }

  @Test
  void closingTheHubEndsEveryStreamAndRefusesNewOnes() {
    Subscription s = hub.open(EnumSet.allOf(Topic.class));
    hub.close();
    assertThat(s.ended()).isPresent();
    assertThatThrownBy(() -> s.next(Duration.ofSeconds(5)))
        .isInstanceOf(Subscription.StreamEnded.class);
    assertThatThrownBy(() -> hub.open(Set.of(Topic.SUMMARY)))
        .extracting(e -> ((ControllerException) e).code())
        .isEqualTo(ErrorCode.UNAVAILABLE);
  }

  @Test
  void unknownTopicsAreRefusedWithTheList() {
    assertThatThrownBy(() -> Topic.parse(Optional.of("summary,gossip")))
        .hasMessageContaining("topics must be one or more of summary, devices, rollouts, events")
        .hasMessageContaining("'gossip'");
  }

  @Test
  void aStreamConfinedToSomeDevicesGetsTheirMessagesAndTheirSummaryOnly() throws Exception {
    java.util.function.Predicate<java.util.Map<String, String>> eu =
        tags -> "eu".equals(tags.get("region"));
    Subscription confined = hub.open(EnumSet.allOf(Topic.class), Optional.of(eu));
    Subscription all = hub.open(EnumSet.allOf(Topic.class));
    assertThat(take(confined).event()).isEqualTo("hello");
    assertThat(confined.next(SHORT))
        .as("a fleet summary that cannot be scoped is not sent")
        .isEmpty();
    take(all);
    take(all);

    pending.add(
        new StreamMessage(
            Topic.SUMMARY,
            "summary",
            null,
            "{\"total\":2}",
            null,
            visible -> visible.test(java.util.Map.of("region", "eu")) ? "{\"total\":1}" : "{}"));
    pending.add(
        new StreamMessage(
            Topic.DEVICES, "device", null, "{\"id\":\"us-1\"}", java.util.Map.of("region", "us")));
    pending.add(
        new StreamMessage(
            Topic.DEVICES, "device", null, "{\"id\":\"eu-1\"}", java.util.Map.of("region", "eu")));
    pending.add(new StreamMessage(Topic.ROLLOUTS, "rollout", null, "{\"id\":\"r1\"}"));
    hub.tick();

    assertThat(take(confined).data()).isEqualTo("{\"total\":1}");
    assertThat(take(confined).data()).isEqualTo("{\"id\":\"eu-1\"}");
    assertThat(confined.next(SHORT)).as("not another region's device, nor a rollout").isEmpty();
    assertThat(take(all).data()).isEqualTo("{\"total\":2}");
    assertThat(take(all).data()).isEqualTo("{\"id\":\"us-1\"}");
    assertThat(take(all).data()).isEqualTo("{\"id\":\"eu-1\"}");
    assertThat(take(all).event()).isEqualTo("rollout");
  }
}
