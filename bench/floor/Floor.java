import java.io.FileInputStream;
import java.net.InetAddress;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * The floor under the agent's memory: a JVM that does nothing ("idle"), and one that has made one
 * TLS 1.3 connection and keeps it open ("tls"), as the agent keeps its link to the controller.
 * "server KEYSTORE PORT" serves that connection. Prints "ready" and waits to be measured (or, with a
 * last argument "--exit", ends: the run that records an ahead-of-time class cache).
 */
public class Floor {
  public static void main(String[] args) throws Exception {
    switch (args[0]) {
      case "idle" -> {}
      case "tls" -> {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, new TrustManager[] {new TrustAll()}, null);
        SSLSocket s =
            (SSLSocket)
                ctx.getSocketFactory()
                    .createSocket(InetAddress.getLoopbackAddress(), Integer.parseInt(args[1]));
        s.startHandshake();
        s.getOutputStream().write('x');
        s.getOutputStream().flush();
      }
      case "server" -> {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (FileInputStream in = new FileInputStream(args[1])) {
          ks.load(in, "floor1".toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance("PKIX");
        kmf.init(ks, "floor1".toCharArray());
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), null, null);
        SSLServerSocket server =
            (SSLServerSocket)
                ctx.getServerSocketFactory()
                    .createServerSocket(Integer.parseInt(args[2]), 50, InetAddress.getLoopbackAddress());
        System.out.println("ready");
        while (true) {
          SSLSocket c = (SSLSocket) server.accept();
          Thread.ofPlatform().daemon().start(() -> {
            try {
              c.getInputStream().read();
              c.getInputStream().read();
            } catch (Exception e) {
              // the client went away
            }
          });
        }
      }
      default -> throw new IllegalArgumentException(args[0]);
    }
    System.out.println("ready");
    if (args[args.length - 1].equals("--exit")) {
      return; // a recording run for the class cache
    }
    Thread.sleep(Long.MAX_VALUE);
  }

  static final class TrustAll implements X509TrustManager {
    public void checkClientTrusted(X509Certificate[] c, String a) {}

    public void checkServerTrusted(X509Certificate[] c, String a) {}

    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
