package dev.outrigger.readme;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.outrigger.internal.jfr.AttemptEvent;
import dev.outrigger.internal.jfr.BreakerTransitionEvent;
import dev.outrigger.internal.jfr.CallEvent;
import dev.outrigger.internal.jfr.InFlightWaitEvent;
import dev.outrigger.internal.jfr.RateLimitEvent;
import dev.outrigger.internal.jfr.RetryBackoffEvent;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import jdk.jfr.Event;
import jdk.jfr.EventType;
import jdk.jfr.SettingDescriptor;
import jdk.jfr.ValueDescriptor;
import org.junit.jupiter.api.Test;

/**
 * README "JDK Flight Recorder events": the table's events, each with its fields and default
 * settings, read from the events' own metadata (JfrEventsTest records them in a recording).
 */
class ReadmeJfrTest {

  @Test
  void theEventsHaveTheTablesNamesFieldsAndDefaults() {
    Map<Class<? extends Event>, String[]> table = new LinkedHashMap<>();
    // name, fields (README's "failed attempt" is the field attempt), threshold, stack trace
    table.put(CallEvent.class, new String[] {"dev.outrigger.Call",
        "host,method,url,status,attempts,outcome,error", "20 ms", "true"});
    table.put(AttemptEvent.class, new String[] {"dev.outrigger.Attempt",
        "host,method,url,attempt,status,outcome,error", "20 ms", "false"});
    table.put(RetryBackoffEvent.class, new String[] {"dev.outrigger.RetryBackoff",
        "host,method,attempt,delay,reason", "0 ns", "false"});
    table.put(RateLimitEvent.class, new String[] {"dev.outrigger.RateLimit",
        "host,method,wait,rejected", "0 ns", "false"});
    table.put(InFlightWaitEvent.class, new String[] {"dev.outrigger.InFlightWait",
        "host,wait", "0 ns", "false"});
    table.put(BreakerTransitionEvent.class, new String[] {"dev.outrigger.BreakerTransition",
        "breaker,from,to", "0 ns", "false"});
    for (Map.Entry<Class<? extends Event>, String[]> row : table.entrySet()) {
      EventType type = EventType.getEventType(row.getKey());
      String[] want = row.getValue();
      assertEquals(want[0], type.getName());
      List<String> fields = type.getFields().stream().map(ValueDescriptor::getName)
          .filter(n -> !List.of("startTime", "duration", "eventThread", "stackTrace").contains(n))
          .toList();
      assertEquals(List.of(want[1].split(",")), fields, want[0]);
      assertTrue(type.getFields().stream().anyMatch(f -> f.getName().equals("duration")),
          want[0] + " has a duration");
      Map<String, String> defaults = type.getSettingDescriptors().stream()
          .collect(Collectors.toMap(SettingDescriptor::getName,
              SettingDescriptor::getDefaultValue));
      assertEquals("true", defaults.get("enabled"), want[0] + " is enabled by default");
      assertEquals(want[2], defaults.getOrDefault("threshold", "0 ns"), want[0] + " threshold");
      assertEquals(want[3], defaults.getOrDefault("stackTrace", "false"), want[0] + " stack");
    }
  }
}
