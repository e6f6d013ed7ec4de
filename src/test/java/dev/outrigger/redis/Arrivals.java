package dev.outrigger.redis;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;

/**
 * A MockWebServer dispatcher that answers 200 at once and notes when each request arrived and
 * which client sent it ({@code X-Client}), to check what the server saw against a token bucket.
 */
final class Arrivals extends Dispatcher {
  /**
   * {@code nanos}: when the server saw it; {@code released}: when the client's store released
   * its permit ({@code X-Released}, else {@code nanos}).
   */
  record Arrival(long nanos, String client, long released) {}

  private final ConcurrentLinkedQueue<Arrival> all = new ConcurrentLinkedQueue<>();
  private volatile MockResponse response = new MockResponse.Builder().code(200).body("ok").build();

  @Override
  public MockResponse dispatch(RecordedRequest request) {
    long now = System.nanoTime();
    String released = request.getHeaders().get("X-Released");
    all.add(new Arrival(now, request.getHeaders().get("X-Client"),
        released == null ? now : Long.parseLong(released)));
    return response;
  }

  void clear() {
    all.clear();
  }

  void respondWith(MockResponse r) {
    this.response = r;
  }

  List<Arrival> sorted() {
    List<Arrival> list = new ArrayList<>(all);
    list.sort(Comparator.comparingLong(Arrival::nanos));
    return list;
  }

  long count(String client) {
    return all.stream().filter(a -> client.equals(a.client())).count();
  }

  int size() {
    return all.size();
  }

  /**
   * The most requests any window of time held beyond what a bucket of {@code rate} per second
   * allows over that window: {@code max over windows [t_i, t_j] of (j - i + 1) - rate * (t_j -
   * t_i)}. A server fed by a bucket with burst {@code b} never sees more than {@code b}.
   */
  static double worstWindow(List<Arrival> sorted, double rate) {
    return worstWindowOf(sorted.stream().mapToLong(Arrival::nanos).toArray(), rate);
  }

  /** {@link #worstWindow} on the times the stores released the permits, not the arrivals. */
  static double worstReleaseWindow(List<Arrival> arrivals, double rate) {
    return worstWindowOf(arrivals.stream().mapToLong(Arrival::released).sorted().toArray(), rate);
  }

  private static double worstWindowOf(long[] sorted, double rate) {
    double worst = 0;
    for (int i = 0; i < sorted.length; i++) {
      for (int j = i; j < sorted.length; j++) {
        double seconds = (sorted[j] - sorted[i]) / 1e9;
        worst = Math.max(worst, (j - i + 1) - rate * seconds);
      }
    }
    return worst;
  }
}
