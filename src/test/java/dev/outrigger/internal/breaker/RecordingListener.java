package dev.outrigger.internal.breaker;

import dev.outrigger.CallContext;
import dev.outrigger.CallListener;
import dev.outrigger.CircuitBreaker;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Records breaker events as strings: "key CLOSED->OPEN", "rejected key". */
final class RecordingListener implements CallListener {
  final List<String> events = new CopyOnWriteArrayList<>();

  @Override
  public void breakerTransition(String key, CircuitBreaker.State from, CircuitBreaker.State to) {
    events.add(key + " " + from + "->" + to);
  }

  @Override
  public void breakerRejected(CallContext call, String key) {
    events.add("rejected " + key);
  }

  List<String> transitions() {
    return events.stream().filter(e -> e.contains("->")).toList();
  }

  long rejections() {
    return events.stream().filter(e -> e.startsWith("rejected")).count();
  }
}
