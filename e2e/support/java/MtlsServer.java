// A Java HTTPS server that demands a client certificate, as a Java gateway or a Tomcat/WaveMaker
// application with clientAuth="true" does: the JDK's own com.sun.net.httpserver.HttpsServer, the
// server identity from a PKCS#12 keystore, the trusted client CAs from a PKCS#12 truststore (the
// one the bundle engine writes), and `needClientAuth`. Compiled with javac by the e2e test.
//
// Usage: java MtlsServer <keystore.p12> <truststore.p12>
//   passwords from the environment: KEYSTORE_PASSWORD, TRUSTSTORE_PASSWORD.
// Prints "listening <port>" once bound to 127.0.0.1 on an ephemeral port; answers every request
// with 200 and the verified client's subject. The JDK's own PKIX trust manager decides; it is
// wrapped only to print each verdict on stderr ("trusted client …" / "refused client …"), since
// the JDK's HttpsServer closes a refused connection without sending the TLS alert. Stops when its
// standard input closes.
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsExchange;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

public final class MtlsServer {
  /** The JDK's trust manager, its client verdicts printed on stderr. */
  private static final class Reporting extends X509ExtendedTrustManager {
    private final X509ExtendedTrustManager jdk;

    Reporting(X509ExtendedTrustManager jdk) {
      this.jdk = jdk;
    }

    private interface Check {
      void run() throws CertificateException;
    }

    private static void report(X509Certificate[] chain, Check check) throws CertificateException {
      String who = chain.length > 0 ? chain[0].getSubjectX500Principal().getName() : "(no certificate)";
      try {
        check.run();
        System.err.println("trusted client " + who);
      } catch (CertificateException e) {
        System.err.println("refused client " + who + ": " + e.getMessage());
        throw e;
      }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String auth) throws CertificateException {
      report(chain, () -> jdk.checkClientTrusted(chain, auth));
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String auth, Socket socket)
        throws CertificateException {
      report(chain, () -> jdk.checkClientTrusted(chain, auth, socket));
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String auth, SSLEngine engine)
        throws CertificateException {
      report(chain, () -> jdk.checkClientTrusted(chain, auth, engine));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String auth) throws CertificateException {
      jdk.checkServerTrusted(chain, auth);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String auth, Socket socket)
        throws CertificateException {
      jdk.checkServerTrusted(chain, auth, socket);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String auth, SSLEngine engine)
        throws CertificateException {
      jdk.checkServerTrusted(chain, auth, engine);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return jdk.getAcceptedIssuers();
    }
  }

  private static KeyStore load(String path, char[] password) throws Exception {
    KeyStore store = KeyStore.getInstance("PKCS12");
    try (InputStream in = new FileInputStream(path)) {
      store.load(in, password);
    }
    return store;
  }

  private static char[] password(String variable) {
    String value = System.getenv(variable);
    if (value == null) throw new IllegalArgumentException(variable + " is not set");
    return value.toCharArray();
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: java MtlsServer <keystore.p12> <truststore.p12>");
      System.exit(2);
    }
    char[] keyPassword = password("KEYSTORE_PASSWORD");
    KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    keys.init(load(args[0], keyPassword), keyPassword);
    KeyStore truststore = load(args[1], password("TRUSTSTORE_PASSWORD"));
    TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    trust.init(truststore);
    System.err.println("truststore entries: " + truststore.size());

    X509ExtendedTrustManager jdk = null;
    for (TrustManager tm : trust.getTrustManagers()) {
      if (tm instanceof X509ExtendedTrustManager) jdk = (X509ExtendedTrustManager) tm;
    }
    if (jdk == null) throw new IllegalStateException("the JDK offers no X509ExtendedTrustManager");

    SSLContext tls = SSLContext.getInstance("TLS");
    tls.init(keys.getKeyManagers(), new TrustManager[] {new Reporting(jdk)}, null);

    HttpsServer server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    server.setHttpsConfigurator(
        new HttpsConfigurator(tls) {
          @Override
          public void configure(HttpsParameters params) {
            SSLParameters ssl = getSSLContext().getDefaultSSLParameters();
            ssl.setNeedClientAuth(true);
            params.setSSLParameters(ssl);
          }
        });
    server.createContext(
        "/",
        exchange -> {
          HttpsExchange https = (HttpsExchange) exchange;
          X509Certificate client = (X509Certificate) https.getSSLSession().getPeerCertificates()[0];
          byte[] body =
              ("client: " + client.getSubjectX500Principal().getName() + "\n")
                  .getBytes(StandardCharsets.UTF_8);
          exchange.getResponseHeaders().add("Content-Type", "text/plain");
          exchange.sendResponseHeaders(200, body.length);
          try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
          }
        });
    server.start();
    System.out.println("listening " + server.getAddress().getPort());
    System.out.flush();

    // The test owns this process: when it closes our standard input (or dies), stop.
    while (System.in.read() != -1) {}
    server.stop(0);
  }
}
