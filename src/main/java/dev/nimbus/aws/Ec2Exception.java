package dev.nimbus.aws;

/**
 * A call answered with EC2's error envelope: the HTTP status, EC2's error code and a message that
 * says what to change.
 */
public final class Ec2Exception extends RuntimeException {
  private final int status;
  private final String code;

  public Ec2Exception(int status, String code, String message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  public int status() {
    return status;
  }

  public String code() {
    return code;
  }
}
