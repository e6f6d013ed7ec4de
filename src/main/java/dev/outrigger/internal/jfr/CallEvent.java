package dev.outrigger.internal.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Threshold;

/**
 * One logical call, from start to the caller's result: its duration spans every attempt, wait and
 * backoff. Like {@code jdk.SocketRead} in the JDK's default settings, only calls slower than a
 * threshold (20 ms) are recorded, with the caller's stack trace.
 */
@Name("dev.outrigger.Call")
@Label("Outrigger Call")
@Category({"Outrigger", "HTTP"})
@Description("A logical HTTP call, attempts, waits and backoffs included")
@Enabled(true)
@Threshold("20 ms")
@StackTrace(true)
public final class CallEvent extends Event {
  @Label("Host")
  @Description("host:port")
  String host;

  @Label("Method")
  String method;

  @Label("URL")
  @Description("The request URL, secrets redacted")
  String url;

  @Label("Status")
  @Description("The final HTTP status, or -1 when none arrived")
  int status;

  @Label("Attempts")
  @Description("Attempts sent to the network")
  int attempts;

  @Label("Outcome")
  String outcome;

  @Label("Error")
  @Description("What the caller received when the call failed")
  String error;
}
