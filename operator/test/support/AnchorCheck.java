// Java's verdict on trust anchors, as a Java server with a PKCS#12 truststore reaches it: each
// stdin line is `truststore.p12 TAB password TAB leaf.pem`; each stdout line is `ok` or
// `error TAB reason`. The store's trusted-certificate entries become PKIX trust anchors
// (PKIXParameters(KeyStore)), and the leaf is validated with CertPathValidator "PKIX", revocation
// off (the bundle's CRLs are judged elsewhere).
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStreamReader;
import java.security.KeyStore;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.X509Certificate;
import java.util.List;

public class AnchorCheck {
  public static void main(String[] args) throws Exception {
    CertificateFactory factory = CertificateFactory.getInstance("X.509");
    CertPathValidator validator = CertPathValidator.getInstance("PKIX");
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
    for (String line; (line = in.readLine()) != null; ) {
      String[] f = line.split("\t");
      try {
        KeyStore store = KeyStore.getInstance("PKCS12");
        try (FileInputStream s = new FileInputStream(f[0])) {
          store.load(s, f[1].toCharArray());
        }
        X509Certificate leaf;
        try (FileInputStream s = new FileInputStream(f[2])) {
          leaf = (X509Certificate) factory.generateCertificate(s);
        }
        PKIXParameters params = new PKIXParameters(store);
        params.setRevocationEnabled(false);
        validator.validate(factory.generateCertPath(List.of(leaf)), params);
        System.out.println("ok");
      } catch (Exception e) {
        String why = (e.getClass().getSimpleName() + ": " + e.getMessage()).replaceAll("\\s+", " ");
        System.out.println("error\t" + why);
      }
      System.out.flush();
    }
  }
}
