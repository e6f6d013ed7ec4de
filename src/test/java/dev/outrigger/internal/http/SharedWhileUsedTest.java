package dev.outrigger.internal.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class SharedWhileUsedTest {

  @Test
  void aStartThatFailsCountsNoUserSoTheNextAcquireStartsIt() {
    // The deadline watchdog's thread start can fail (no memory for a thread): the client whose
    // build failed never releases, so counting it would leave every later client without one.
    AtomicInteger starts = new AtomicInteger();
    List<Integer> stopped = new ArrayList<>();
    SharedWhileUsed<Integer> shared = new SharedWhileUsed<>(() -> {
      if (starts.incrementAndGet() == 1) {
        throw new OutOfMemoryError("unable to create native thread");
      }
      return starts.get();
    }, stopped::add);

    assertThrows(OutOfMemoryError.class, shared::acquire);
    assertNull(shared.current());

    shared.acquire();
    assertNotNull(shared.current(), "the next user found no instance and started none");
    assertEquals(2, shared.current());
    shared.release();
    assertNull(shared.current());
    assertEquals(List.of(2), stopped, "the last release stops it");
  }
}
