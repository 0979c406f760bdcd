package dev.nimbus.allocation;

import java.util.Arrays;

/**
 * An amount of every {@link Resource}, in exact integer units (millicores, bytes). Immutable;
 * arithmetic never rounds, and negative amounts are allowed only as the result of {@link #minus}.
 */
public final class Amounts {
  public static final Amounts ZERO = new Amounts(new long[Resource.values().length]);

  private final long[] values;

  private Amounts(long[] values) {
    this.values = values;
  }

  public static Amounts of(long cpuMillis, long memoryBytes, long ephemeralStorageBytes) {
    return new Amounts(new long[] {cpuMillis, memoryBytes, ephemeralStorageBytes});
  }

  public long get(Resource resource) {
    return values[resource.ordinal()];
  }

  public Amounts plus(Amounts other) {
    long[] sum = new long[values.length];
    for (int i = 0; i < sum.length; i++) {
      sum[i] = Math.addExact(values[i], other.values[i]);
    }
    return new Amounts(sum);
  }

  public Amounts minus(Amounts other) {
    long[] difference = new long[values.length];
    for (int i = 0; i < difference.length; i++) {
      difference[i] = Math.subtractExact(values[i], other.values[i]);
    }
    return new Amounts(difference);
  }

  public Amounts times(long factor) {
    long[] product = new long[values.length];
    for (int i = 0; i < product.length; i++) {
      product[i] = Math.multiplyExact(values[i], factor);
    }
    return new Amounts(product);
  }

  /** Whether every resource of this amount is at most the same resource of {@code room}. */
  public boolean fitsIn(Amounts room) {
    return firstExceeding(room) == null;
  }

  /** The first resource (in {@link Resource} order) where this amount exceeds {@code room}. */
  public Resource firstExceeding(Amounts room) {
    for (Resource resource : Resource.values()) {
      if (get(resource) > room.get(resource)) {
        return resource;
      }
    }
    return null;
  }

  public boolean isZero() {
    return equals(ZERO);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Amounts amounts && Arrays.equals(values, amounts.values);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(values);
  }

  @Override
  public String toString() {
    return "cpu=" + values[0] + "m memory=" + values[1] + " ephemeral-storage=" + values[2];
  }
}
