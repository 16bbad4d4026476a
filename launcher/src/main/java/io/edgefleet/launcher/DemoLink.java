package io.edgefleet.launcher;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The demo's stand-in for a site's network link: a TCP relay on loopback between one device and the
 * controller. It passes bytes untouched (the TLS session is end to end), so a device behind it is a
 * device like any other, until {@link #cut()} drops every connection and refuses new ones, as a
 * satellite link that goes down would; {@link #restore()} brings it back. Thread-safe.
 */
final class DemoLink implements AutoCloseable {
  private final ServerSocket listener;
  private final InetSocketAddress controller;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private volatile boolean down;
  private volatile boolean closed;

  /** Starts relaying from a new loopback port to the controller's port. */
  DemoLink(int controllerPort) throws IOException {
    InetAddress loopback = InetAddress.getLoopbackAddress();
    this.controller = new InetSocketAddress(loopback, controllerPort);
    this.listener = new ServerSocket(0, 16, loopback);
    Thread.ofVirtual().name("demo-link-accept").start(this::accept);
  }

  /** The port devices behind this link connect to. */
  int port() {
    return listener.getLocalPort();
  }

  /** The link goes down: open connections drop, new ones are refused, until {@link #restore()}. */
  void cut() {
    down = true;
    dropAll();
  }

  void restore() {
    down = false;
  }

  boolean isDown() {
    return down;
  }

  private void accept() {
    while (!closed) {
      Socket device;
      try {
        device = listener.accept();
      } catch (IOException e) {
        return; // closed
      }
      if (down || closed) {
        quietly(device);
        continue;
      }
      Socket upstream = new Socket();
      try {
        upstream.connect(controller, 5_000);
      } catch (IOException e) {
        quietly(device);
        quietly(upstream);
        continue;
      }
      open.add(device);
      open.add(upstream);
      Thread.ofVirtual().name("demo-link-up").start(() -> pump(device, upstream));
      Thread.ofVirtual().name("demo-link-down").start(() -> pump(upstream, device));
    }
  }

  /** Copies one direction until either side closes, then closes both. */
  private void pump(Socket from, Socket to) {
    byte[] buffer = new byte[16 * 1024];
    try (InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream()) {
      int n;
      while ((n = in.read(buffer)) >= 0) {
        out.write(buffer, 0, n);
      }
    } catch (IOException e) {
      // The other direction, a cut or the peer closed: both sockets go below.
    } finally {
      open.remove(from);
      open.remove(to);
      quietly(from);
      quietly(to);
    }
  }

  private void dropAll() {
    for (Socket s : open) {
      quietly(s);
    }
    open.clear();
  }

  private static void quietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // Nothing left to do with it.
    }
  }

  @Override
  public void close() {
    closed = true;
    try {
      listener.close();
    } catch (IOException e) {
      // Already closed.
    }
    dropAll();
  }
}
