package dev.outrigger.internal;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.outrigger.CallListener;
import dev.outrigger.Deadline;
import dev.outrigger.HttpStatusException;
import java.time.Duration;
import okhttp3.HttpUrl;
import org.junit.jupiter.api.Test;

/**
 * {@link Failures#hostStatus}: a thrown status is the call's host's when its URL is on the same
 * {@code host:port} as the policies key it, however the URL spells it (a default port left out
 * or written, an IPv6 literal's long form, the host's case), or when its URL names no host (a
 * path, a text that does not parse) and so cannot say it is another's; another host or port is
 * not.
 */
class HostStatusTest {
  private static RealCallContext call(String url) {
    return new RealCallContext("GET", HttpUrl.get(url), Deadline.after(Duration.ofSeconds(5)),
        true, NanoClock.SYSTEM, CallListener.NONE, Redactor.DEFAULTS);
  }

  private static HttpStatusException status(String url) {
    return new HttpStatusException(503, "GET", url, "", 1);
  }

  @Test
  void aStatusOnTheCallsHostPortIsItsHostsHoweverTheUrlSpellsIt() {
    RealCallContext ctx = call("https://api.example.com/v1/x");
    for (String url : new String[] {"https://api.example.com/other",
        "https://api.example.com:443/y?token=%E2%96%88", "https://API.Example.com/z#frag"}) {
      HttpStatusException e = status(url);
      assertSame(e, Failures.hostStatus(e, ctx), url);
    }
    RealCallContext v6 = call("http://[::1]:8080/x");
    HttpStatusException longForm = status("http://[0:0:0:0:0:0:0:1]:8080/y");
    assertSame(longForm, Failures.hostStatus(longForm, v6));
  }

  /**
   * A URL that does not parse was taken for another host's, so the status counted nowhere (and,
   * by the breaker's default rule for exceptions, as a success): a user's exception that gives
   * the path alone, or a redacted URL whose port a secret of the same digits masked
   * ({@link Redactor#scrub} masks every secret of four characters or more, after a redirect).
   */
  @Test
  void aStatusWhoseUrlNamesNoHostIsTheCallsHosts() {
    RealCallContext ctx = call("https://api.example.com:8443/v1/x");
    for (String url : new String[] {"/v1/x", "", "https://api.example.com:REDACTED/v1/x"}) {
      HttpStatusException e = status(url);
      assertSame(e, Failures.hostStatus(e, ctx), url);
    }
  }

  /** After a redirect to another origin, a status of where the attempt's answer came from. */
  @Test
  void aStatusOfWhereTheAttemptsAnswerCameFromIsTheCallsHosts() {
    RealCallContext ctx = call("http://api.example.com/v1/x");
    HttpStatusException e = status("https://api.example.com/v1/x");
    assertNull(Failures.hostStatus(e, ctx), "before the answer came");
    ctx.answered(HttpUrl.get("https://api.example.com:443/v1/x?page=2"));
    assertSame(e, Failures.hostStatus(e, ctx));
    assertNull(Failures.hostStatus(status("https://audit.example.com/v1/x"), ctx));
    ctx.beginAttempt();
    assertNull(Failures.hostStatus(e, ctx), "an earlier attempt's answer");
  }

  @Test
  void anotherHostOrPortIsNotTheCallsHosts() {
    RealCallContext ctx = call("https://api.example.com/v1/x");
    for (String url : new String[] {"https://audit.example.com/v1/x",
        "http://api.example.com/v1/x", "https://api.example.com:8443/v1/x"}) {
      assertNull(Failures.hostStatus(status(url), ctx), url);
    }
    assertNull(Failures.hostStatus(status("http://[::1]/x"), call("http://[::1]:8080/x")));
    assertNull(Failures.hostStatus(new IllegalStateException(), ctx));
  }
}
