package dev.outrigger.redis;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The per-test half of a store test's fixture, beside the class's {@link RedisFixture}: before
 * each test its server is running (a test before may have stopped it) and empty; after each, the
 * stores the test built and whatever else it registered are closed, in the order registered
 * ({@link #closeFirst} puts one ahead), after the class's own {@code @AfterEach} methods. Each is
 * closed even when one before it throws; the first failure is thrown, the others attached.
 *
 * {@snippet :
 * @RegisterExtension
 * static final RedisFixture redis = new RedisFixture();
 * @RegisterExtension
 * final RedisStores stores = new RedisStores(redis);
 * }
 */
final class RedisStores implements BeforeEachCallback, AfterEachCallback {
  private final RedisFixture redis;
  private final List<AutoCloseable> toClose = new ArrayList<>();

  RedisStores(RedisFixture redis) {
    this.redis = redis;
  }

  /** {@code b} built, and closed after the test. */
  RedisRateLimitStore build(RedisRateLimitStore.Builder b) {
    return closeLast(b.build());
  }

  /** {@code c}, closed after the test once everything registered before it is. */
  <T extends AutoCloseable> T closeLast(T c) {
    toClose.add(c);
    return c;
  }

  /** {@code c}, closed after the test before everything registered so far (a client first). */
  <T extends AutoCloseable> T closeFirst(T c) {
    toClose.add(0, c);
    return c;
  }

  @Override
  public void beforeEach(ExtensionContext context) throws Exception {
    redis.start();
    redis.command("FLUSHALL");
  }

  @Override
  public void afterEach(ExtensionContext context) throws Exception {
    // Every resource is closed, even when one before it throws (a leak check's AssertionError
    // included); the first failure is thrown after.
    Throwable first = null;
    for (AutoCloseable c : toClose) {
      try {
        c.close();
      } catch (Exception | AssertionError e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    toClose.clear();
    if (first instanceof Exception e) {
      throw e;
    }
    if (first instanceof AssertionError e) {
      throw e;
    }
  }
}
