package dev.outrigger.internal.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Threshold;

/** One attempt on the network. Recorded when slower than 20 ms, without a stack trace. */
@Name("dev.outrigger.Attempt")
@Label("Outrigger Attempt")
@Category({"Outrigger", "HTTP"})
@Description("One attempt of a call on the network")
@Enabled(true)
@Threshold("20 ms")
@StackTrace(false)
public final class AttemptEvent extends Event {
  @Label("Host")
  @Description("host:port")
  String host;

  @Label("Method")
  String method;

  @Label("URL")
  @Description("The request URL, secrets redacted")
  String url;

  @Label("Attempt")
  @Description("The attempt number, from 1")
  int attempt;

  @Label("Status")
  @Description("The HTTP status, or -1 when none arrived")
  int status;

  @Label("Outcome")
  String outcome;

  @Label("Error")
  String error;
}
