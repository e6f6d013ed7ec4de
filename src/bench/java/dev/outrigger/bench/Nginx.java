package dev.outrigger.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * An nginx (Debian's {@code nginx-light}) started on a free loopback port with keep-alive raised,
 * answering {@code 200 ok} on every path and serving {@code stub_status} for request counts.
 * Stopped by {@link #close()}.
 */
final class Nginx implements AutoCloseable {
  private final Path dir;
  private final Process process;
  private final Thread stopOnExit = new Thread(this::stopProcess, "nginx-stop");
  final int port;

  Nginx(int workers) throws IOException, InterruptedException {
    String binary = Stream.of("/usr/sbin/nginx", "/usr/local/sbin/nginx")
        .filter(p -> Files.isExecutable(Path.of(p))).findFirst()
        .orElseThrow(() -> new IllegalStateException(
            "nginx not found: apt-get install -y nginx-light"));
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    dir = Files.createTempDirectory("outrigger-nginx");
    Files.createDirectories(dir.resolve("logs"));
    String conf = """
        worker_processes %d;
        daemon off;
        pid %s/nginx.pid;
        error_log %s/logs/error.log warn;
        events { worker_connections 4096; }
        http {
          access_log off;
          keepalive_requests 10000000;
          keepalive_timeout 300s;
          client_body_temp_path %s/body;
          proxy_temp_path %s/proxy;
          fastcgi_temp_path %s/fastcgi;
          uwsgi_temp_path %s/uwsgi;
          scgi_temp_path %s/scgi;
          server {
            listen 127.0.0.1:%d;
            location = /nginx_status { stub_status; }
            location / { default_type text/plain; return 200 "ok\\n"; }
          }
        }
        """.formatted(workers, dir, dir, dir, dir, dir, dir, dir, port);
    Path confFile = dir.resolve("nginx.conf");
    Files.writeString(confFile, conf);
    process = new ProcessBuilder(binary, "-p", dir.toString(), "-c", confFile.toString())
        .redirectErrorStream(true)
        .redirectOutput(dir.resolve("logs/stdout.log").toFile())
        .start();
    // A harness stopped by a signal must not leave nginx running on its port.
    Runtime.getRuntime().addShutdownHook(stopOnExit);
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 200);
        return;
      } catch (IOException e) {
        if (!process.isAlive() || System.nanoTime() > end) {
          close();
          throw new IllegalStateException("nginx did not start; see " + dir.resolve("logs"), e);
        }
        Thread.sleep(50);
      }
    }
  }

  String url(String path) {
    return "http://127.0.0.1:" + port + path;
  }

  @Override
  public void close() {
    try {
      Runtime.getRuntime().removeShutdownHook(stopOnExit);
    } catch (IllegalStateException shuttingDown) {
      // The hook is running, or about to.
    }
    stopProcess();
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // A temp directory left behind is harmless.
    }
  }

  private void stopProcess() {
    process.destroy();
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
