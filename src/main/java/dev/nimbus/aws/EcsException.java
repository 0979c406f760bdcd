package dev.nimbus.aws;

/**
 * A call answered with ECS's JSON error: HTTP 400 (500 for server errors) and {@code {"__type":
 * code, "message": ...}}.
 */
public final class EcsException extends RuntimeException {
  private final int status;
  private final String type;

  public EcsException(int status, String type, String message) {
    super(message);
    this.status = status;
    this.type = type;
  }

  static EcsException client(String message) {
    return new EcsException(400, "ClientException", message);
  }

  public int status() {
    return status;
  }

  public String type() {
    return type;
  }
}
