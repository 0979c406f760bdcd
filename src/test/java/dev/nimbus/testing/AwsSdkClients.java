package dev.nimbus.testing;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import javax.net.ssl.TrustManagerFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.client.builder.AwsClientBuilder;
import software.amazon.awssdk.awscore.client.builder.AwsSyncClientBuilder;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;

/**
 * Clients of the AWS SDK for Java v2 pointed at Nimbus's AWS API, as a Java user builds them: only
 * the endpoint, a region, the access key and the CA that signs the endpoint's certificate are set.
 */
public final class AwsSdkClients {
  private AwsSdkClients() {}

  public static <C, B extends AwsSyncClientBuilder<B, C> & AwsClientBuilder<B, C>> C of(
      B builder, URI endpoint, Path caFile, String keyId, String secret) throws Exception {
    KeyStore trusted = KeyStore.getInstance("PKCS12");
    trusted.load(null, null);
    try (var in = Files.newInputStream(caFile)) {
      int i = 0;
      for (var certificate : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        trusted.setCertificateEntry("ca-" + i++, certificate);
      }
    }
    TrustManagerFactory trust =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    trust.init(trusted);
    return builder
        .endpointOverride(endpoint)
        .region(Region.US_EAST_1)
        .credentialsProvider(
            StaticCredentialsProvider.create(AwsBasicCredentials.create(keyId, secret)))
        .httpClientBuilder(
            UrlConnectionHttpClient.builder().tlsTrustManagersProvider(trust::getTrustManagers))
        .build();
  }
}
