package dev.nimbus.allocation;

/**
 * An allocation (overcommit) ratio, held exactly in thousandths so that {@code P × R} is an integer
 * computation: 1.5 is 1500‰. Ratios with more than three decimals are rounded to three.
 */
public record Ratio(long permille) {
  public static final Ratio ONE = new Ratio(1000);

  public Ratio {
    if (permille <= 0) {
      throw new IllegalArgumentException("a ratio must be greater than 0, was " + permille + "‰");
    }
  }

  public static Ratio of(double ratio) {
    return new Ratio(Math.round(ratio * 1000));
  }

  /** {@code amount × ratio}, rounded down: a pool never promises a fraction it does not have. */
  public long applyTo(long amount) {
    return Math.multiplyExact(amount, permille) / 1000;
  }

  /**
   * {@code amount × ratio}, rounded up: the virtual capacity that {@code amount} of physical
   * capacity (a runtime's overhead) takes of a node, so that what it holds never falls short.
   */
  public long applyToRoundingUp(long amount) {
    return -Math.floorDiv(-Math.multiplyExact(amount, permille), 1000L);
  }

  /**
   * {@code amount ÷ ratio}, rounded up: what a workload that holds {@code amount} of virtual
   * capacity asks of the node it runs on, so that the requests on a node never exceed P.
   */
  public long divide(long amount) {
    return -Math.floorDiv(-Math.multiplyExact(amount, 1000L), permille);
  }

  public double value() {
    return permille / 1000.0;
  }

  @Override
  public String toString() {
    return permille % 1000 == 0 ? Long.toString(permille / 1000) : Double.toString(value());
  }
}
