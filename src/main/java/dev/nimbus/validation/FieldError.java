package dev.nimbus.validation;

/** What is wrong with one field: its path from the object's root, and why, in words. */
public record FieldError(String path, String message) {
  @Override
  public String toString() {
    return path + ": " + message;
  }
}
