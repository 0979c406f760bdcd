package dev.nimbus.aws;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Verifies AWS Signature Version 4 as EC2 and ECS do: the {@code Authorization} header's signature
 * over the canonical request, with the secret of the access key it names, within 15 minutes of the
 * request's {@code X-Amz-Date}. Pure: the secrets and the clock are passed in.
 *
 * <p>Canonical form, as AWS's published test suite fixes it: the path normalized (dot segments
 * removed, repeated slashes collapsed) and percent-encoded as sent, which encodes it twice, as for
 * every service but S3; the query's parameters decoded, encoded strictly and sorted; the signed
 * headers' values trimmed, inner whitespace collapsed, repeats joined by commas; the body's
 * SHA-256. Presigned URLs (the signature in the query) are not accepted: no EC2 or ECS client sends
 * them.
 */
public final class SigV4 {
  public static final String ALGORITHM = "AWS4-HMAC-SHA256";

  /** How far a request's time may be from ours, either way, as AWS allows. */
  public static final Duration MAX_SKEW = Duration.ofMinutes(15);

  private static final DateTimeFormatter AMZ_DATE =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);
  private static final Pattern AUTHORIZATION =
      Pattern.compile(
          ALGORITHM
              + "\\s+Credential=([^/,\\s]+)/(\\d{8})/([^/,\\s]+)/([^/,\\s]+)/aws4_request\\s*,"
              + "\\s*SignedHeaders=([a-z0-9;!#$%&'*+.^_`|~-]+)\\s*,\\s*Signature=([0-9a-f]{64})\\s*");
  private static final HexFormat HEX = HexFormat.of();

  private SigV4() {}

  /** Why a request was not verified; the wire protocols turn it into their own error codes. */
  public enum Failure {
    /** No {@code Authorization} header, or not a SigV4 one. */
    MISSING_AUTHENTICATION,
    /** An {@code Authorization} header, or {@code X-Amz-Date}, that cannot be read. */
    INCOMPLETE_SIGNATURE,
    /** The access key is not one we know. */
    UNKNOWN_KEY,
    /** The signature is not the one the key's secret makes for this request. */
    SIGNATURE_MISMATCH,
    /** Signed more than {@link #MAX_SKEW} away from now. */
    EXPIRED
  }

  /** A request that failed verification, and what to tell the caller. */
  public static final class VerificationException extends Exception {
    private final Failure failure;

    public VerificationException(Failure failure, String message) {
      super(message);
      this.failure = failure;
    }

    public Failure failure() {
      return failure;
    }
  }

  /** Who signed a verified request, and for which region and service. */
  public record Verified(String accessKeyId, String region, String service) {}

  /** The parts of an {@code Authorization} header. */
  record Authorization(
      String accessKeyId,
      String date,
      String region,
      String service,
      List<String> signedHeaders,
      String signature) {
    String scope() {
      return date + "/" + region + "/" + service + "/aws4_request";
    }
  }

  /**
   * Verifies {@code request}, signed with the secret that {@code secrets} gives for its access key
   * (empty when the key is unknown or revoked), at {@code now}.
   */
  public static Verified verify(
      SignedRequest request, Function<String, Optional<String>> secrets, Instant now)
      throws VerificationException {
    Authorization authorization = authorization(request);
    String amzDate = request.header("x-amz-date");
    Instant signedAt;
    try {
      signedAt = AMZ_DATE.parse(amzDate == null ? "" : amzDate, Instant::from);
    } catch (DateTimeParseException e) {
      throw new VerificationException(
          Failure.INCOMPLETE_SIGNATURE,
          "X-Amz-Date must be a basic ISO 8601 time such as 20150830T123600Z, was " + amzDate);
    }
    if (!amzDate.startsWith(authorization.date())) {
      throw new VerificationException(
          Failure.SIGNATURE_MISMATCH,
          "Date in Credential scope does not match YYYYMMDD from X-Amz-Date: "
              + authorization.date()
              + " and "
              + amzDate);
    }
    if (Duration.between(signedAt, now).abs().compareTo(MAX_SKEW) > 0) {
      throw new VerificationException(
          Failure.EXPIRED,
          "Signature expired: "
              + amzDate
              + " is more than "
              + MAX_SKEW.toMinutes()
              + " minutes from "
              + AMZ_DATE.format(now));
    }
    for (String name : authorization.signedHeaders()) {
      if (!request.headers().containsKey(name)) {
        throw new VerificationException(
            Failure.INCOMPLETE_SIGNATURE, "signed header " + name + " is not in the request");
      }
    }
    if (!authorization.signedHeaders().contains("host")) {
      throw new VerificationException(
          Failure.INCOMPLETE_SIGNATURE, "the host header must be signed");
    }
    String secret =
        secrets
            .apply(authorization.accessKeyId())
            .orElseThrow(
                () ->
                    new VerificationException(
                        Failure.UNKNOWN_KEY,
                        "the access key " + authorization.accessKeyId() + " is not known"));
    String expected =
        signature(
            secret,
            authorization,
            stringToSign(
                amzDate,
                authorization.scope(),
                canonicalRequest(request, authorization.signedHeaders())));
    if (!MessageDigest.isEqual(
        expected.getBytes(StandardCharsets.US_ASCII),
        authorization.signature().getBytes(StandardCharsets.US_ASCII))) {
      throw new VerificationException(
          Failure.SIGNATURE_MISMATCH,
          "The request signature we calculated does not match the signature you provided. Check"
              + " your AWS Secret Access Key and signing method.");
    }
    return new Verified(
        authorization.accessKeyId(), authorization.region(), authorization.service());
  }

  static Authorization authorization(SignedRequest request) throws VerificationException {
    String header = request.header("authorization");
    if (header == null || !header.startsWith(ALGORITHM)) {
      throw new VerificationException(
          Failure.MISSING_AUTHENTICATION,
          "Request is missing Authentication Token: sign it with AWS Signature Version 4");
    }
    Matcher matcher = AUTHORIZATION.matcher(header);
    if (!matcher.matches()) {
      throw new VerificationException(
          Failure.INCOMPLETE_SIGNATURE,
          "Authorization header requires 'Credential=<key>/<yyyyMMdd>/<region>/<service>"
              + "/aws4_request', 'SignedHeaders' and 'Signature' (64 hex digits)");
    }
    return new Authorization(
        matcher.group(1),
        matcher.group(2),
        matcher.group(3),
        matcher.group(4),
        List.of(matcher.group(5).split(";")),
        matcher.group(6));
  }

  /** The canonical request: what the signature covers. */
  static String canonicalRequest(SignedRequest request, List<String> signedHeaders) {
    StringBuilder canonical = new StringBuilder();
    canonical.append(request.method()).append('\n');
    canonical.append(canonicalPath(request.path())).append('\n');
    canonical.append(canonicalQuery(request.query())).append('\n');
    for (String name : signedHeaders) {
      canonical.append(name).append(':').append(canonicalValue(request.headers().get(name)));
      canonical.append('\n');
    }
    canonical.append('\n').append(String.join(";", signedHeaders)).append('\n');
    canonical.append(HEX.formatHex(sha256(request.body())));
    return canonical.toString();
  }

  static String stringToSign(String amzDate, String scope, String canonicalRequest) {
    return ALGORITHM
        + "\n"
        + amzDate
        + "\n"
        + scope
        + "\n"
        + HEX.formatHex(sha256(canonicalRequest.getBytes(StandardCharsets.UTF_8)));
  }

  static String signature(String secret, Authorization authorization, String stringToSign) {
    byte[] key = ("AWS4" + secret).getBytes(StandardCharsets.UTF_8);
    for (String part :
        List.of(
            authorization.date(),
            authorization.region(),
            authorization.service(),
            "aws4_request")) {
      key = hmac(key, part);
    }
    return HEX.formatHex(hmac(key, stringToSign));
  }

  private static String canonicalPath(String path) {
    Deque<String> segments = new ArrayDeque<>();
    for (String segment : path.split("/", -1)) {
      if (segment.isEmpty() || segment.equals(".")) {
        continue;
      }
      if (segment.equals("..")) {
        segments.pollLast();
      } else {
        segments.addLast(segment);
      }
    }
    StringBuilder normalized = new StringBuilder();
    for (String segment : segments) {
      normalized.append('/').append(encode(segment));
    }
    if (normalized.isEmpty() || (path.endsWith("/") && !segments.isEmpty())) {
      normalized.append('/');
    }
    return normalized.toString();
  }

  private static String canonicalQuery(String query) {
    if (query.isEmpty()) {
      return "";
    }
    List<Map.Entry<String, String>> parameters = new ArrayList<>();
    for (String parameter : query.split("&")) {
      if (parameter.isEmpty()) {
        continue;
      }
      int equals = parameter.indexOf('=');
      String name = equals < 0 ? parameter : parameter.substring(0, equals);
      String value = equals < 0 ? "" : parameter.substring(equals + 1);
      parameters.add(Map.entry(encode(decode(name)), encode(decode(value))));
    }
    parameters.sort(Map.Entry.<String, String>comparingByKey().thenComparing(Map.Entry::getValue));
    List<String> pairs = new ArrayList<>();
    parameters.forEach(p -> pairs.add(p.getKey() + "=" + p.getValue()));
    return String.join("&", pairs);
  }

  private static String canonicalValue(List<String> values) {
    List<String> trimmed = new ArrayList<>();
    for (String value : values) {
      trimmed.add(value.strip().replaceAll("\\s+", " "));
    }
    return String.join(",", trimmed);
  }

  /** Percent-encodes every byte of the UTF-8 text but RFC 3986's unreserved characters. */
  static String encode(String text) {
    StringBuilder encoded = new StringBuilder();
    for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
      char c = (char) (b & 0xff);
      if ((c >= 'A' && c <= 'Z')
          || (c >= 'a' && c <= 'z')
          || (c >= '0' && c <= '9')
          || c == '-'
          || c == '_'
          || c == '.'
          || c == '~') {
        encoded.append(c);
      } else {
        encoded.append('%').append(HEX.withUpperCase().toHexDigits(b));
      }
    }
    return encoded.toString();
  }

  /**
   * Decodes a query component as form encoding does ({@code +} is a space, as botocore reads it); a
   * malformed escape stays as sent.
   */
  static String decode(String text) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '%' && isHex(text, i + 1) && isHex(text, i + 2)) {
        bytes.write(HexFormat.fromHexDigits(text, i + 1, i + 3));
        i += 2;
      } else if (c == '+') {
        bytes.write(' ');
      } else {
        byte[] utf8 = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
        if (Character.isHighSurrogate(c) && i + 1 < text.length()) {
          utf8 = text.substring(i, i + 2).getBytes(StandardCharsets.UTF_8);
          i++;
        }
        bytes.writeBytes(utf8);
      }
    }
    return bytes.toString(StandardCharsets.UTF_8);
  }

  private static boolean isHex(String text, int index) {
    return index < text.length() && Character.digit(text.charAt(index), 16) >= 0;
  }

  static byte[] sha256(byte[] data) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(data);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }

  private static byte[] hmac(byte[] key, String data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("every Java runtime has HmacSHA256", e);
    }
  }
}
