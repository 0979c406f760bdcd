package dev.nimbus.config;

/**
 * How every controller retries a reconcile that failed: from 2 s, half as long again each time, at
 * most a minute apart, and never giving up. JOSDK's default gives up after 5 attempts (about 26 s)
 * and then waits for the next event of the object, which a running workload, or a deleted one whose
 * finalizer waits on a refused write, may never get: an API server that is overloaded, or refuses
 * writes, for half a minute would leave it stuck for good.
 */
public final class Retries {
  /** JOSDK's value for "no limit on attempts". */
  public static final int FOREVER = -1;

  /** The longest wait between two attempts, in milliseconds. */
  public static final long MAX_INTERVAL_MILLIS = 60_000;

  private Retries() {}
}
