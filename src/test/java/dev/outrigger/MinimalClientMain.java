package dev.outrigger;

/**
 * A client on a class path without Micrometer, Lettuce or Netty (and a runtime without
 * {@code jdk.jfr}): prints the body of a GET of {@code args[0]}, and whether JFR was there.
 */
public final class MinimalClientMain {
  private MinimalClientMain() {}

  public static void main(String[] args) {
    try (ApiClient client = ApiClient.builder().retry(Retry.none()).build()) {
      System.out.println("BODY " + client.get(args[0]).execute(String.class));
      System.out.println("JFR " + ModuleLayer.boot().findModule("jdk.jfr").isPresent());
    }
  }
}
