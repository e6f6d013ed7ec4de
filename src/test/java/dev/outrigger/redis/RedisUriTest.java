package dev.outrigger.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lettuce.core.RedisURI;
import io.lettuce.core.resource.Transports;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The Redis URI is checked by {@link RedisRateLimitStore#builder(String)}, before any connection:
 * Lettuce itself reads {@code redis://host:notaport} as the host {@code host:notaport} and a
 * password holding {@code ?} as part of the host, and the store then retries a host that cannot
 * exist forever, logging it (password part included) as its Redis.
 */
class RedisUriTest {
  /** Refused with one message holding every part of {@code expected}, never the password. */
  private static void refused(String uri, String... expected) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RedisRateLimitStore.builder(uri), uri);
    for (String part : expected) {
      assertTrue(e.getMessage().contains(part), "'" + part + "' not in: " + e.getMessage());
    }
    assertFalse(e.getMessage().contains("s3") || e.getMessage().contains("cret"),
        e.getMessage());
    assertNull(e.getCause(), "Lettuce's exception may quote the password");
  }

  @Test
  void aPortThatIsNotANumberFrom1To65535IsRefusedNamingIt() {
    refused("redis://u:s3cret@host:notaport", "'redis://host:notaport'", "port 'notaport'",
        "from 1 to 65535");
    refused("redis://host:0", "port '0'");
    refused("redis://host:-1", "port '-1'");
    refused("redis://host:65536", "port '65536'");
    refused("redis://host:", "port ''");
    refused("redis://[::1]:x", "port 'x'");
  }

  @Test
  void aMissingHostIsRefusedNamingIt() {
    refused("redis://u:s3cret@:6379", "'redis://:6379'", "names no host",
        "redis://host:6379/0");
    refused("redis://u:s3cret@/0", "names no host");
    refused("redis://h1,h2:6379", "host 'h1,h2'", "one host");
    refused("redis://::1:6379", "host '::1:6379'", "in brackets");
  }

  @Test
  void aMissingOrUnknownSchemeIsRefusedNamingTheOnesToUse() {
    refused("u:s3cret@host:6379", "'host:6379' has no scheme", "redis://");
    refused("http://u:s3cret@host", "scheme 'http'", "use redis://", "rediss://");
    refused("valkey://host", "scheme 'valkey'", "use redis://");
  }

  @Test
  void aDatabaseThatIsNotANumberFrom0IsRefusedNamingIt() {
    refused("redis://u:s3cret@host/abc", "'redis://host/abc'", "database 'abc'",
        "a number from 0");
    refused("redis://host?database=x", "database 'x'");
    refused("redis://host/0?db=-2", "database '-2'");
    refused("redis://host/-1", "database '-1'");
    refused("redis://host/0/1", "database '0/1'");
    refused("redis://host/99999999999", "database '99999999999'");
  }

  @Test
  void aPasswordLettuceWouldReadAsTheHostIsRefusedAskingForPercentEncoding() {
    // As written, Lettuce connects to the host "u:s3" (and the logs name it).
    refused("redis://u:s3?cret@host:6379", "'redis://host:6379'", "percent-encode", "%3F");
    refused("redis://u:s3#cret@host:6379", "percent-encode");
    refused("redis://u:s3/cret@host:6379/0", "percent-encode");
    refused("redis://u:s3/cret@host:x", "port 'x'");
  }

  @Test
  void aQueryParameterLettuceWouldIgnoreIsRefusedNamingTheOnesRead() {
    // As written, Lettuce connects to database 0: two applications meant apart share keys.
    // (The refused parameter's value is not quoted: it may be anything, a secret included.)
    refused("redis://u:s3cret@host/?databse=1", "'redis://host/?databse=REDACTED'",
        "parameter 'databse'", "would ignore", "database (or db)", "clientName",
        "libraryName", "libraryVersion", "verifyPeer", "sentinelMasterId");
    refused("redis://host?db=1&password=x", "parameter 'password'");
    // Lettuce also splits at ';', and reads the query percent-decoded.
    refused("redis://host?clientName=app;databse=1", "parameter 'databse'");
    refused("redis://host?clientName=app%26databse=1", "parameter 'databse'");
    refused("redis://host?clientName=app%26pass=s3cret", "parameter 'pass'",
        "clientName=REDACTED");
  }

  @Test
  void aTimeoutInTheUriIsRefusedPointingAtTheBuilder() {
    refused("redis://u:s3cret@host?timeout=5s", "'redis://host?timeout=5s'",
        "parameter 'timeout'", "RedisRateLimitStore.Builder.timeout(Duration)",
        "connectTimeout(Duration)");
    refused("redis://host/0?TimeOut=100ms", "parameter 'TimeOut'");
  }

  @Test
  void aParameterWithNoValueIsRefusedAskingForOne() {
    refused("redis://host?db", "parameter 'db' with no value", "database=value");
    refused("redis://host?database=", "parameter 'database' with no value");
    refused("redis://host?clientName=", "parameter 'clientName' with no value",
        "clientName=value");
    refused("rediss://host?verifyPeer", "parameter 'verifyPeer' with no value");
    refused("redis-sentinel://s1?sentinelMasterId=",
        "parameter 'sentinelMasterId' with no value");
  }

  @Test
  void aSentinelMasterIdWithoutSentinelIsRefused() {
    refused("redis://u:s3cret@host?sentinelMasterId=mymaster", "'redis://host?sentinelMasterId",
        "parameter 'sentinelMasterId'", "without Sentinel", "redis-sentinel://");
    refused("rediss://host?SENTINELMASTERID=m", "parameter 'SENTINELMASTERID'");
  }

  @Test
  void verifyPeerIsRefusedWithoutTlsAndReadOnlyAsNoneCaOrFull() {
    // Lettuce ignores it without TLS: ?verifyPeer=FULL would send everything in plain text.
    refused("redis://u:s3cret@host?verifyPeer=FULL", "'redis://host?verifyPeer=FULL'",
        "TLS only", "rediss://");
    refused("redis-sentinel://s1?verifyPeer=CA#m", "TLS only");
    refused("rediss://host?verifyPeer=true", "verifyPeer 'true'", "NONE, CA or FULL");
  }

  @Test
  void aSentinelUriWithoutAMasterIsRefused() {
    refused("redis-sentinel://u:s3cret@s1:26379", "'redis-sentinel://s1:26379'",
        "names no master", "#mymaster");
    refused("redis-sentinel://s1:26379#", "names no master");
    // Lettuce would read the master as 'mymaster?db=1', and database 0.
    refused("redis-sentinel://s1#mymaster?db=1", "'?' after its '#'");
  }

  @Test
  void aSentinelUriWithAUserInfoPerSentinelIsRefusedSayingHowToWriteIt() {
    // Lettuce takes all up to the last '@' for the user info and the Sentinels after it alone:
    // as written, it asks only s2, with the password "s3cret@s1:26379,:s3cret".
    refused("redis-sentinel://:s3cret@s1:26379,:s3cret@s2:26379#m",
        "'redis-sentinel://s2:26379#m'", "once, before the first Sentinel",
        "redis-sentinel://:password@host1:26379,host2:26379#mymaster", "%2C", "%40",
        "the master's");
    // Read as the user "s1", and s2 alone.
    refused("redis-sentinel://s1:26379,:s3cret@s2:26379#m", "once, before the first Sentinel");
    refused("rediss-sentinel://u:s3cret@s1,u:s3cret@s2/0?clientName=a#m",
        "once, before the first Sentinel");
    // Written once, with its ',' and '@' encoded, it is the master's password, and both
    // Sentinels are asked (without it: Lettuce gives the Sentinels no password).
    RedisURI once = RedisUris.parse("redis-sentinel://:s3%2Cc%40ret@s1:26379,s2:26380#m");
    assertEquals(2, once.getSentinels().size());
    assertEquals("s3,c@ret", new String(once.getCredentialsProvider().resolveCredentials()
        .block().getPassword()));
    assertNull(once.getSentinels().get(0).getCredentialsProvider().resolveCredentials()
        .block().getPassword());
  }

  @Test
  void anIpv6AddressAmongSeveralSentinelsIsRefusedSayingLettuceCannotReadIt() {
    // Lettuce reads the list with java.net.URI, which refuses it whatever is encoded: with user
    // info the builder said to percent-encode the password, without it quoted URI's "Illegal
    // character in port number at index 28".
    for (String uri : new String[] {"redis-sentinel://:s3cret@s1,[::1]#m",
        "redis-sentinel://[::1]:26379,s2#m", "redis-sentinel://u:s3cret@[::1]:26379,[::2]#m",
        "redis-sentinel://[::1],s1#m"}) {
      refused(uri, "an IPv6 address among several Sentinels", "cannot read",
          "redis-sentinel://[::1]:26379#mymaster");
    }
    // One Sentinel by its IPv6 address is read.
    assertEquals("[::1]", RedisUris.parse("redis-sentinel://:s3cret@[::1]:26379#m")
        .getSentinels().get(0).getHost());
  }

  @Test
  void aDatabaseParameterLettuceReadsOnlyInLowerCaseIsRefused() {
    // Lettuce reads 'database' in any case but 'db' only as written so: DB=1 is database 0,
    // silently through Sentinel or a socket, where there is no host to compare.
    refused("redis-sentinel://s1?DB=1#m", "parameter 'DB'", "db=", "database=");
    refused("redis-socket:///tmp/redis.sock?Db=2", "parameter 'Db'");
    refused("redis://host?dB=3", "parameter 'dB'");
    assertEquals(4, RedisUris.parse("redis-sentinel://s1?DataBase=4#m").getDatabase());
  }

  @Test
  void acceptsTheParametersLettuceReads() {
    RedisURI tls = RedisUris.parse("rediss://host?clientName=orders&libraryName=outrigger"
        + ";libraryVersion=1.2&VerifyPeer=ca&db=4");
    assertEquals("orders", tls.getClientName());
    assertEquals("outrigger", tls.getLibraryName());
    assertEquals("1.2", tls.getLibraryVersion());
    assertEquals(io.lettuce.core.SslVerifyMode.CA, tls.getVerifyMode());
    assertEquals(4, tls.getDatabase());
    assertEquals("mymaster",
        RedisUris.parse("redis-sentinel://s1?sentinelMasterId=mymaster").getSentinelMasterId());
    assertEquals(6379, RedisUris.parse("redis://host?").getPort());
  }

  @Test
  void aUnixSocketIsRefusedWhenLettuceCannotOpenOneNamingTheDependency() {
    // Lettuce opens Unix sockets only through netty's native transport, which the test class
    // path has in surefire's redis-socket execution alone (see RedisSocketTest).
    Assumptions.assumeFalse(Transports.NativeTransports.isDomainSocketSupported(),
        "netty's native transport is on this class path");
    refused("redis-socket:///tmp/outrigger-none.sock",
        "'redis-socket:///tmp/outrigger-none.sock'", "Unix socket",
        "io.netty:netty-transport-native-epoll", "linux-x86_64", "netty-transport-native-kqueue",
        "redis://host:port");
  }

  @Test
  void theStoreDescribesTheSocketOrTheMasterAndSentinelsOrTheHostItTalksTo() {
    assertEquals("/tmp/redis.sock",
        RedisUris.where(RedisUris.parse("redis-socket:///tmp/redis.sock?db=1")));
    assertEquals("master 'mymaster' via Sentinel s1:26379, s2:26380",
        RedisUris.where(RedisUris.parse("redis-sentinel://u:s3cret@s1,s2:26380/0#mymaster")));
    assertEquals("[::1]:6380", RedisUris.where(RedisUris.parse("redis://[::1]:6380")));
    assertEquals("host:6379", RedisUris.where(RedisUris.parse("rediss://u:s3cret@host/2")));
  }

  @Test
  void acceptsWhatLettuceReadsAsWritten() {
    RedisURI encoded = RedisUris.parse("redis://u:s3%3Fcr%2Fet@host:6380/2");
    assertEquals("host", encoded.getHost());
    assertEquals(6380, encoded.getPort());
    assertEquals(2, encoded.getDatabase());
    RedisURI upper = RedisUris.parse("  REDIS://Cache.Example.com  ");
    assertEquals("Cache.Example.com", upper.getHost());
    assertEquals(6379, upper.getPort());
    assertEquals(3, RedisUris.parse("rediss://10.0.0.5/3?database=3").getDatabase());
    assertEquals("[::1]", RedisUris.parse("redis://[::1]:6379").getHost());
    assertEquals("/tmp/redis.sock",
        RedisUris.parse("redis-socket:///tmp/redis.sock?db=1").getSocket());
    assertEquals(2, RedisUris.parse("redis-sentinel://s1:26379,s2/0#primary")
        .getSentinels().size());
  }

  // What the text says, not what a lenient reading would make of it.

  @Test
  void anUnknownParameterHoldingASecretIsRefusedWithoutShowingIt() {
    // Redactor.DEFAULT_QUERY masks ?password= in every HTTP URL Outrigger shows; not here.
    refused("redis://host?password=s3cret", "parameter 'password'");
    refused("redis://host/0?db=1&token=s3cret", "parameter 'token'");
  }

  @Test
  void noParameterValueTheBuilderRefusesIsQuoted() {
    // Split at ';' as Lettuce does; and an unknown name may hold anything, a secret included.
    refused("redis://localhost:6379?db=0;password=s3cret", "parameter 'password'",
        "password=REDACTED");
    refused("redis://localhost:6379?db=0&pass=s3cret", "parameter 'pass'", "pass=REDACTED");
  }

  @Test
  void anAtSignInTheQueryIsNotTakenForUserInfo() {
    // Valid (RFC 3986 allows '@' in a query) and read by Lettuce as clientName "orders@pod-7".
    RedisURI uri = RedisUris.parse("redis://10.0.0.5:6379?clientName=orders@pod-7");
    assertEquals("10.0.0.5", uri.getHost());
    assertEquals("orders@pod-7", uri.getClientName());
  }

  @Test
  void aDatabaseInThePathAndAnotherInTheQueryIsRefusedSayingWhichToDrop() {
    // Lettuce reads the path's database, then the query's over it, without a word.
    refused("redis://u:s3cret@host/1?db=2", "'redis://host/1?db=2'", "two databases",
        "the path's /1", "db=2", "drop the path's /1 or db=2");
    refused("rediss://host:6380/1?DataBase=2", "the path's /1", "DataBase=2");
    refused("redis-sentinel://:s3cret@s1:26379,s2:26380/1?db=2#m", "the path's /1", "db=2");
    refused("redis-sentinel://s1/0?sentinelMasterId=m&database=5", "the path's /0",
        "database=5");
    // Two parameters that disagree are the same guess.
    refused("redis://host?db=1&database=2", "db=1", "database=2", "drop db=1 or database=2");
    refused("redis-socket:///tmp/redis.sock?db=1;db=3", "db=1", "db=3");
    // Said twice alike, it is one database.
    assertEquals(1, RedisUris.parse("redis://host/1?db=1").getDatabase());
    assertEquals(3, RedisUris.parse("redis-sentinel://s1/3?database=3#m").getDatabase());
    assertEquals(2, RedisUris.parse("redis://host?db=2&database=2").getDatabase());
  }

  @Test
  void anAtSignInASentinelUrisQueryHidesNoParameterAfterIt() {
    // The '@' is the client name's, in the query: the user info ends in the authority.
    RedisURI uri = RedisUris.parse(
        "redis-sentinel://s1:26379,s2:26380?clientName=orders@pod-7&db=3#m");
    assertEquals(2, uri.getSentinels().size());
    assertEquals("orders@pod-7", uri.getClientName());
    assertEquals(3, uri.getDatabase());
    RedisURI withPassword = RedisUris.parse(
        "redis-sentinel://:s3cret@s1:26379,s2:26380?clientName=a@b&database=2#m");
    assertEquals(2, withPassword.getSentinels().size());
    assertEquals("s3cret", new String(withPassword.getCredentialsProvider()
        .resolveCredentials().block().getPassword()));
    assertEquals(2, withPassword.getDatabase());
    // A bad parameter after (or before) such a value is refused for what it is.
    refused("redis-sentinel://s1:26379,s2:26380?clientName=a@b&databse=1#m",
        "'redis-sentinel://s1:26379,s2:26380?clientName=a@b&databse=REDACTED#m'",
        "parameter 'databse'");
    refused("redis-sentinel://:s3cret@s1,s2?clientName=a@b&verifyPeer=FULL#m",
        "'redis-sentinel://s1,s2?clientName=a@b&verifyPeer=FULL#m'", "parameter 'verifyPeer'",
        "TLS only");
    refused("redis-sentinel://s1,s2?databse=1&clientName=a@b#m", "parameter 'databse'");
    // A '/' in such a value is the value's too.
    assertEquals("team/orders@pod-7", RedisUris.parse(
        "redis://localhost:6379?clientName=team/orders@pod-7").getClientName());
    // A socket's URI has no authority at all: its query's '@' is the query's too.
    assertEquals("a@b",
        RedisUris.parse("redis-socket:///tmp/redis.sock?clientName=a@b").getClientName());
  }

  @Test
  void aPasswordWithAQuestionMarkIsNeverQuotedThoughItsAtSignLooksLikeTheQuerys() {
    // java.net.URI reads these as a host ("my_s3cret", or "user" with port 12345) and a query
    // holding the '@': the text up to it may be a password all the same, and never shows.
    for (String uri : new String[] {"redis://my_s3cret?rest@host:6379",
        "redis://user:12345?s3cret@host:6379", "redis://u_1:12/s3cret@host",
        "redis-sentinel://s3cret?x@s1,s2#m", "redis://my_s3cret#rest@host"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> RedisRateLimitStore.builder(uri), uri);
      for (String secret : new String[] {"s3cret", "rest", "12345", "u_1"}) {
        assertFalse(e.getMessage().contains(secret), uri + " -> " + e.getMessage());
      }
    }
  }

  @Test
  void anAtSignAfterTheHashIsRefusedAskingToEncodeTheHash() {
    // Lettuce reads all after the first '#' as the fragment: s3cr becomes the host (or, through
    // Sentinel, a Sentinel's port) and t@host the fragment. The builder said the Sentinel URI
    // "names no master", and took a host that happens to match the part before the '#'.
    for (String uri : new String[] {"redis://s3cr#t@host", "redis://u:s3#cret@host:6379/0",
        "redis://pw#s3cret@pw", "rediss://:s3#cret@cache.example.com:6380/2",
        "redis-sentinel://:s3cr#t@s1:26379", "redis-sentinel://:s3cr#t@s1,s2",
        "redis-sentinel://:s3cr#t@s1:26379#mymaster"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> RedisRateLimitStore.builder(uri), uri);
      assertTrue(e.getMessage().contains("an '@' after its '#'"), e.getMessage());
      assertTrue(e.getMessage().contains("percent-encode a '#'") && e.getMessage().contains("%23"),
          e.getMessage());
      assertFalse(e.getMessage().contains("s3") || e.getMessage().contains("cr"),
          e.getMessage());
      assertNull(e.getCause());
    }
  }

  @Test
  void aFragmentOutsideSentinelIsRefusedAsLettuceIgnoresIt() {
    // Lettuce reads the fragment as the master's name through Sentinel, and ignores it
    // otherwise: redis://host#x would connect to host as if the '#x' were not there.
    refused("redis://host:6379/0#x", "'redis://host:6379/0#x'", "fragment", "ignores",
        "redis-sentinel://");
    refused("rediss://host#", "fragment");
    refused("redis-socket:///tmp/redis.sock#x", "fragment");
    refused("redis://host#x?db=1", "fragment");
    assertEquals("mymaster",
        RedisUris.parse("redis-sentinel://s1:26379#mymaster").getSentinelMasterId());
  }

  @Test
  void aSocketPathLettuceWouldReadAsAnotherPathIsRefused() {
    // Lettuce reads redis-socket://var/run/redis.sock as the socket /run/redis.sock.
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RedisUris.parse("redis-socket://var/run/redis.sock"),
        () -> "accepted, as the socket " + RedisUris.where(
            RedisUris.parse("redis-socket://var/run/redis.sock")));
    assertTrue(e.getMessage().contains("redis-socket:///"), e.getMessage());
  }
}
