package dev.outrigger.internal.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.outrigger.internal.Redactor;
import okhttp3.HttpUrl;
import org.junit.jupiter.api.Test;

class UrlsTest {
  private static final HttpUrl V1 = HttpUrl.get("https://api.example.com/v1");

  private static String resolve(HttpUrl base, String path) {
    return Urls.resolve(base, path, Redactor.DEFAULTS).toString();
  }

  @Test
  void appendsToTheBasePathWhateverTheSlashes() {
    assertEquals("https://api.example.com/v1/posts/1", resolve(V1, "/posts/1"));
    assertEquals("https://api.example.com/v1/posts/1", resolve(V1, "posts/1"));
    assertEquals("https://api.example.com/v1/posts",
        resolve(HttpUrl.get("https://api.example.com/v1/"), "/posts"));
    assertEquals("https://api.example.com/posts",
        resolve(HttpUrl.get("https://api.example.com"), "/posts"));
    assertEquals("https://api.example.com/v1", resolve(V1, ""));
    assertEquals("https://api.example.com/v1/", resolve(V1, "/"));
  }

  @Test
  void keepsAQueryAndFragmentWrittenInThePath() {
    assertEquals("https://api.example.com/v1/search?q=a%20b&x=1#top",
        resolve(V1, "/search?q=a%20b&x=1#top"));
    assertEquals("https://api.example.com/v1?only=query", resolve(V1, "?only=query"));
  }

  @Test
  void usesAbsoluteUrlsAsIsWithOrWithoutABase() {
    assertEquals("http://other.example.com:8080/x?y=1",
        resolve(V1, "http://other.example.com:8080/x?y=1"));
    assertEquals("https://other.example.com/", resolve(null, "HTTPS://other.example.com"));
    assertEquals("https://u:p@other.example.com/a", resolve(null, "https://u:p@other.example.com/a"));
    // Credentials in a URL would not be sent (OkHttp sends none from a URL): a client on a
    // transport of its own refuses them, without showing them.
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Urls.withoutCredentials(okhttp3.HttpUrl.get("https://u:s3cr3t@other.example.com/a"),
            "", Redactor.DEFAULTS));
    assertEquals("'https://other.example.com/a' has a user name or password, which would not be"
        + " sent (OkHttp sends no credentials from a URL): drop them from the URL and give them"
        + " with ApiClient.builder().auth(refresh -> okhttp3.Credentials.basic(user, password))",
        e.getMessage());
  }

  @Test
  void rejectsGarbageAndRelativePathsWithoutABase() {
    assertThrows(IllegalArgumentException.class,
        () -> Urls.resolve(null, "/posts", Redactor.DEFAULTS));
    assertThrows(IllegalArgumentException.class,
        () -> Urls.resolve(null, "http://", Redactor.DEFAULTS));
    assertThrows(IllegalArgumentException.class,
        () -> Urls.resolve(null, "http://exa mple.com/", Redactor.DEFAULTS));
  }

  @Test
  void encodesEverythingButUnreservedCharactersInASegment() {
    assertEquals("a%2Fb%3F%23%20%0D%0A%C3%A9-._~", Urls.encodeSegment("a/b?# \r\né-._~"));
    assertThrows(IllegalArgumentException.class, () -> Urls.encodeSegment(".."));
    assertThrows(IllegalArgumentException.class, () -> Urls.encodeSegment(""));
  }

  @Test
  void anArgumentThatCannotBeASegmentIsNamedByItsPositionAndPlaceholder() {
    String template = "/users/{user}/repos/{repo}";
    IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
        () -> Urls.expand(Redactor.DEFAULTS, template, "bob", ""));
    assertEquals("path argument 2 for '{repo}' in '/users/{user}/repos/{repo}' is empty, which"
        + " cannot be a path segment", empty.getMessage());
    IllegalArgumentException dots = assertThrows(IllegalArgumentException.class,
        () -> Urls.expand(Redactor.DEFAULTS, template, "..", "r"));
    assertEquals("path argument 1 for '{user}' in '/users/{user}/repos/{repo}' is '..', which URL"
        + " parsers treat as navigation however it is encoded, so it would change the path",
        dots.getMessage());
    IllegalArgumentException nul = assertThrows(IllegalArgumentException.class,
        () -> Urls.expand(Redactor.DEFAULTS, template, "bob", null));
    assertEquals("path argument 2 for '{repo}' in '/users/{user}/repos/{repo}' is null",
        nul.getMessage());
    assertEquals("/users/a%20b/repos/..x", Urls.expand(Redactor.DEFAULTS, template, "a b", "..x"));
  }
}
