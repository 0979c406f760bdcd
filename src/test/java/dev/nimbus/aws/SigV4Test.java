package dev.nimbus.aws;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * AWS's published Signature Version 4 test suite (src/test/resources/aws4_testsuite, Apache-2.0, as
 * botocore ships it): for every case, the canonical request and the string to sign are the suite's,
 * and the suite's signed request verifies; changed in any signed part, it does not.
 */
class SigV4Test {
  private static final String KEY = "AKIDEXAMPLE";
  private static final String SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  private static final Instant SIGNED_AT = Instant.parse("2015-08-30T12:36:00Z");

  /** One case of the suite: the request as sent, and what its signing must produce. */
  record Vector(String name, SignedRequest request, String creq, String sts, String authz) {
    @Override
    public String toString() {
      return name;
    }

    SignedRequest signed() {
      return withHeader(request, "Authorization", authz);
    }
  }

  static Stream<Vector> vectors() throws IOException, URISyntaxException {
    Path suite = Path.of(SigV4Test.class.getResource("/aws4_testsuite").toURI());
    List<Vector> vectors = new ArrayList<>();
    try (Stream<Path> files = Files.walk(suite)) {
      for (Path req : files.filter(f -> f.toString().endsWith(".req")).sorted().toList()) {
        String name = req.getFileName().toString().replace(".req", "");
        Path dir = req.getParent();
        String creq = Files.readString(dir.resolve(name + ".creq"));
        SignedRequest request = parse(Files.readString(req));
        // The suite leaves the session token out of the request: the signer adds it, as a client
        // with temporary credentials sends it.
        var token = Pattern.compile("(?m)^x-amz-security-token:(.*)$").matcher(creq);
        if (token.find() && request.header("x-amz-security-token") == null) {
          request = withHeader(request, "X-Amz-Security-Token", token.group(1));
        }
        vectors.add(
            new Vector(
                name,
                request,
                creq,
                Files.readString(dir.resolve(name + ".sts")),
                Files.readString(dir.resolve(name + ".authz")).strip()));
      }
    }
    assertThat(vectors).hasSizeGreaterThanOrEqualTo(30);
    return vectors.stream();
  }

  @ParameterizedTest
  @MethodSource("vectors")
  void theCanonicalRequestAndStringToSignAreTheSuites(Vector vector) throws Exception {
    var authorization = SigV4.authorization(vector.signed());
    String creq = SigV4.canonicalRequest(vector.request(), authorization.signedHeaders());

    assertThat(creq).isEqualTo(vector.creq());
    assertThat(
            SigV4.stringToSign(vector.request().header("x-amz-date"), authorization.scope(), creq))
        .isEqualTo(vector.sts());
  }

  @ParameterizedTest
  @MethodSource("vectors")
  void theSuitesSignedRequestVerifies(Vector vector) throws Exception {
    var verified = SigV4.verify(vector.signed(), secrets(), SIGNED_AT.plusSeconds(14 * 60));

    assertThat(verified).isEqualTo(new SigV4.Verified(KEY, "us-east-1", "service"));
  }

  @ParameterizedTest
  @MethodSource("vectors")
  void aChangedBodyMethodOrSignedHeaderFailsVerification(Vector vector) {
    SignedRequest signed = vector.signed();
    List<SignedRequest> changed =
        List.of(
            new SignedRequest(
                signed.method(),
                signed.path(),
                signed.query(),
                signed.headers(),
                (new String(signed.body(), StandardCharsets.UTF_8) + "x")
                    .getBytes(StandardCharsets.UTF_8)),
            new SignedRequest(
                signed.method().equals("GET") ? "POST" : "GET",
                signed.path(),
                signed.query(),
                signed.headers(),
                signed.body()),
            withHeader(signed, "Host", "elsewhere.example.com"));

    for (SignedRequest request : changed) {
      assertThatThrownBy(() -> SigV4.verify(request, secrets(), SIGNED_AT))
          .isInstanceOfSatisfying(
              SigV4.VerificationException.class,
              e -> assertThat(e.failure()).isEqualTo(SigV4.Failure.SIGNATURE_MISMATCH));
    }
  }

  @Test
  void anUnknownKeyAnotherSecretOrAStaleTimeIsRefusedForWhatItIs() throws Exception {
    SignedRequest signed = vectors().findFirst().orElseThrow().signed();

    assertThat(failure(signed, key -> Optional.empty(), SIGNED_AT))
        .isEqualTo(SigV4.Failure.UNKNOWN_KEY);
    assertThat(failure(signed, key -> Optional.of(SECRET + "x"), SIGNED_AT))
        .isEqualTo(SigV4.Failure.SIGNATURE_MISMATCH);
    assertThat(failure(signed, secrets(), SIGNED_AT.plusSeconds(15 * 60 + 1)))
        .isEqualTo(SigV4.Failure.EXPIRED);
    assertThat(failure(signed, secrets(), SIGNED_AT.minusSeconds(15 * 60 + 1)))
        .isEqualTo(SigV4.Failure.EXPIRED);
  }

  @Test
  void aMissingOrMalformedAuthorizationSaysWhatIsWrong() throws Exception {
    Vector vector = vectors().findFirst().orElseThrow();
    String authz = vector.authz();

    assertThat(failure(vector.request(), secrets(), SIGNED_AT))
        .isEqualTo(SigV4.Failure.MISSING_AUTHENTICATION);
    assertThat(
            failure(
                withHeader(vector.request(), "Authorization", "AWS AKIDEXAMPLE:abc"),
                secrets(),
                SIGNED_AT))
        .isEqualTo(SigV4.Failure.MISSING_AUTHENTICATION);
    for (String malformed :
        List.of(
            authz.replace("SignedHeaders=", "Signed="),
            authz.replace("/aws4_request", ""),
            authz.substring(0, authz.length() - 1),
            authz.replace("host;", "host;x-missing;"),
            authz.replace("SignedHeaders=host;", "SignedHeaders="))) {
      assertThat(
              failure(
                  withHeader(vector.request(), "Authorization", malformed), secrets(), SIGNED_AT))
          .as(malformed)
          .isEqualTo(SigV4.Failure.INCOMPLETE_SIGNATURE);
    }
    SignedRequest undated =
        new SignedRequest(
            vector.request().method(),
            vector.request().path(),
            vector.request().query(),
            Map.of("Host", List.of("example.amazonaws.com"), "Authorization", List.of(authz)),
            vector.request().body());
    assertThat(failure(undated, secrets(), SIGNED_AT))
        .isEqualTo(SigV4.Failure.INCOMPLETE_SIGNATURE);
  }

  private static SigV4.Failure failure(
      SignedRequest request, Function<String, Optional<String>> secrets, Instant now) {
    try {
      SigV4.verify(request, secrets, now);
      return null;
    } catch (SigV4.VerificationException e) {
      assertThat(e.getMessage()).isNotBlank();
      return e.failure();
    }
  }

  private static Function<String, Optional<String>> secrets() {
    return key -> key.equals(KEY) ? Optional.of(SECRET) : Optional.empty();
  }

  private static SignedRequest withHeader(SignedRequest request, String name, String value) {
    Map<String, List<String>> headers = new LinkedHashMap<>(request.headers());
    headers.put(name.toLowerCase(Locale.ROOT), List.of(value));
    return new SignedRequest(
        request.method(), request.path(), request.query(), headers, request.body());
  }

  /**
   * A {@code .req} file: the request line (its path may hold spaces), headers with folded
   * continuation lines, a blank line, the body.
   */
  private static SignedRequest parse(String text) {
    String[] lines = text.split("\n", -1);
    String requestLine = lines[0];
    String method = requestLine.substring(0, requestLine.indexOf(' '));
    String target =
        requestLine.substring(method.length() + 1, requestLine.lastIndexOf(" HTTP/1.1"));
    int question = target.indexOf('?');
    Map<String, List<String>> headers = new LinkedHashMap<>();
    String last = null;
    int line = 1;
    for (; line < lines.length && !lines[line].isEmpty(); line++) {
      if (Character.isWhitespace(lines[line].charAt(0)) && last != null) {
        List<String> values = headers.get(last);
        values.set(values.size() - 1, values.get(values.size() - 1) + "\n" + lines[line]);
        continue;
      }
      int colon = lines[line].indexOf(':');
      last = lines[line].substring(0, colon).toLowerCase(Locale.ROOT);
      headers.computeIfAbsent(last, n -> new ArrayList<>()).add(lines[line].substring(colon + 1));
    }
    String body =
        line + 1 < lines.length
            ? String.join("\n", List.of(lines).subList(line + 1, lines.length))
            : "";
    return new SignedRequest(
        method,
        question < 0 ? target : target.substring(0, question),
        question < 0 ? "" : target.substring(question + 1),
        headers,
        body.getBytes(StandardCharsets.UTF_8));
  }
}
