package dev.outrigger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.net.httpserver.HttpServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * A call to an IPv6 literal is keyed {@code [::1]:port}, as a URL writes it: the bare
 * {@code ::1:port} would not say where the address ends and the port begins (in logs, metric
 * tags, a breaker's name).
 */
class Ipv6HostKeyTest {
  @Test
  void anIpv6LiteralIsKeyedInBrackets() throws Exception {
    InetAddress loopback6;
    HttpServer server;
    try {
      loopback6 = InetAddress.getByName("::1");
      server = HttpServer.create(new InetSocketAddress(loopback6, 0), 0);
    } catch (java.io.IOException e) {
      assumeTrue(false, "no IPv6 loopback here: " + e);
      return;
    }
    server.createContext("/", exchange -> {
      byte[] ok = "ok".getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(200, ok.length);
      exchange.getResponseBody().write(ok);
      exchange.close();
    });
    server.start();
    List<String> hosts = new CopyOnWriteArrayList<>();
    int port = server.getAddress().getPort();
    try (ApiClient c = ApiClient.builder()
        .baseUrl("http://[::1]:" + port)
        .addListener(new CallListener() {
          @Override
          public void callStart(CallContext call) {
            hosts.add(call.host());
          }
        })
        .build()) {
      assertEquals("ok", c.get("/x").execute(String.class));
    } finally {
      server.stop(0);
    }
    assertEquals(List.of("[::1]:" + port), hosts);
  }
}
