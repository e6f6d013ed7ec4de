package dev.outrigger.internal.http;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

/**
 * The default JSON mapper: lenient about fields the API adds, strict about nesting and about
 * anything after the document. A string's length is bounded by the body's
 * ({@code maxResponseBytes}) alone.
 */
public final class Json {
  /** Deeper JSON is refused with a clear error instead of a stack overflow. */
  public static final int MAX_NESTING_DEPTH = 500;

  private Json() {}

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
        .findAndAddModules()
        .build();
  }
}
