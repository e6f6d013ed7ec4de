package dev.outrigger.internal.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** A circuit breaker moved from one state to another. */
@Name("dev.outrigger.BreakerTransition")
@Label("Outrigger Breaker Transition")
@Category({"Outrigger", "Resilience"})
@Description("A circuit breaker changed state")
@Enabled(true)
@StackTrace(false)
public final class BreakerTransitionEvent extends Event {
  @Label("Breaker")
  @Description("The breaker's key, host:port by default")
  String breaker;

  @Label("From")
  String from;

  @Label("To")
  String to;
}
