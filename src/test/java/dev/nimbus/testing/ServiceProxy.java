package dev.nimbus.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A TCP proxy on loopback that hands each new connection to one of several backends picked at
 * random, as kube-proxy spreads a Service's connections over the replicas behind it. TLS passes
 * through untouched.
 */
public final class ServiceProxy implements AutoCloseable {
  private final ServerSocket server;
  private final List<Integer> backends;
  private final ExecutorService threads = Executors.newCachedThreadPool();
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();

  public ServiceProxy(List<Integer> backends) throws IOException {
    this.backends = List.copyOf(backends);
    this.server = new ServerSocket(0, 512, InetAddress.getLoopbackAddress());
    threads.submit(this::accept);
  }

  public int port() {
    return server.getLocalPort();
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket client = server.accept();
        int backend = backends.get(ThreadLocalRandom.current().nextInt(backends.size()));
        threads.submit(() -> connect(client, backend));
      } catch (IOException e) {
        return; // closed
      }
    }
  }

  /**
   * Closes every open connection, as a Service's endpoints changing or a load balancer's idle
   * timeout would: the next calls open new ones, each with a TLS handshake.
   */
  public void closeConnections() {
    open.forEach(ServiceProxy::closeQuietly);
    open.clear();
  }

  private void connect(Socket client, int backendPort) {
    open.add(client);
    try {
      Socket backend = new Socket(InetAddress.getLoopbackAddress(), backendPort);
      threads.submit(() -> pipe(client, backend));
      pipe(backend, client);
    } catch (IOException e) {
      closeQuietly(client);
    } finally {
      open.remove(client);
    }
  }

  private static void pipe(Socket from, Socket to) {
    try (InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream()) {
      in.transferTo(out);
    } catch (IOException e) {
      // One side closed: close both below.
    } finally {
      closeQuietly(from);
      closeQuietly(to);
    }
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException ignored) {
      // Already closed.
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    threads.shutdownNow();
  }
}
