package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisConnectionException;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/** What the store's logs and failures say went wrong ({@link RedisRateLimitStore#reason}). */
class FailureReasonTest {
  @Test
  void aFutureWrapperIsSkippedForItsCausesMessage() {
    assertEquals("Connection closed", RedisRateLimitStore.reason(
        new CompletionException(new IllegalStateException("Connection closed"))));
  }

  /**
   * A cause with no message is named by its own class, not by the wrapper's: the wrapper's
   * message (its cause's class), skipped, was all that said what failed.
   */
  @Test
  void aCauseWithNoMessageIsNamedByItsClassNotTheWrappers() {
    assertEquals("ClosedChannelException", RedisRateLimitStore.reason(
        new CompletionException(new ClosedChannelException())));
    assertEquals("CancellationException", RedisRateLimitStore.reason(
        new ExecutionException(new CompletionException(new CancellationException()))));
    assertEquals("ClosedChannelException",
        RedisRateLimitStore.reason(new ClosedChannelException()));
  }

  /**
   * Redis's own answer under Lettuce's wrapper (a handshake Redis refused) is kept: the wrapper's
   * "Unable to connect" alone reads as a network outage.
   */
  @Test
  void anErrorRedisAnsweredWithUnderAWrapperIsKept() {
    assertEquals("Unable to connect to h:1; Redis answered: WRONGPASS invalid pair",
        RedisRateLimitStore.reason(new CompletionException(new RedisConnectionException(
            "Unable to connect to h:1",
            new RedisCommandExecutionException("WRONGPASS invalid pair")))));
    assertEquals("WRONGTYPE wrong kind", RedisRateLimitStore.reason(
        new ExecutionException(new RedisCommandExecutionException("WRONGTYPE wrong kind"))));
  }
}
