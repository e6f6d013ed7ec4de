package dev.outrigger.internal.http;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;

/**
 * The default JSON mapper: lenient about fields the API adds, strict about nesting and about
 * anything after the document. A string's length is bounded by the body's
 * ({@code maxResponseBytes}) alone. {@code java.time} values ({@code Instant},
 * {@code OffsetDateTime}, {@code LocalDate}, {@code Duration}, ...) are read and written as
 * ISO-8601 strings ({@code "2024-05-01T10:15:30Z"}, {@code "PT1.5S"}), as Spring Boot's mapper
 * writes them.
 *
 * <p>A new instance per call: each client built with no mapper has its own, which its user may
 * configure through {@code client.mapper()} without changing any other client's (derived
 * clients share their parent's, see {@code ApiClient.newBuilder()}).
 */
public final class Json {
  /** Deeper JSON is refused with a clear error instead of a stack overflow. */
  public static final int MAX_NESTING_DEPTH = 500;

  private Json() {}

  /** A new default mapper. */
  public static ObjectMapper defaultMapper() {
    JsonFactory factory = JsonFactory.builder()
        .streamReadConstraints(StreamReadConstraints.builder()
            .maxNestingDepth(MAX_NESTING_DEPTH)
            // A string lies within the body, which maxResponseBytes bounds already: Jackson's
            // own cap (20 million characters) would refuse one the client was told to read.
            .maxStringLength(Integer.MAX_VALUE)
            .build())
        .build();
    return JsonMapper.builder(factory)
        .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
        // A second document or an error page glued on after the value ({"id":1}<html>...) is
        // not the answer asked for: Jackson would map the first value and drop the rest.
        .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
        // Registered by name, not left to the class-path scan below: a shaded or repackaged
        // jar may lose the service file the scan reads.
        .addModule(new JavaTimeModule())
        // ISO-8601 strings, what APIs send and Spring Boot writes, not epoch seconds
        // (1714558530.123) or arrays ([2024,2,29]).
        .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
        .disable(SerializationFeature.WRITE_DURATIONS_AS_TIMESTAMPS)
        // An OffsetDateTime comes back with the offset it was sent with (+02:00), not moved to
        // UTC: equal by equals(), not only by isEqual(). A ZonedDateTime keeps its offset, not
        // its zone id (Europe/Paris goes out as +02:00).
        .disable(DeserializationFeature.ADJUST_DATES_TO_CONTEXT_TIME_ZONE)
        .findAndAddModules()
        .build();
  }
}
