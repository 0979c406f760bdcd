package dev.nimbus.bench;

/**
 * How every benchmark ends: the JVM exits once the run is over, since the Kubernetes client's
 * threads would keep it alive, and with status 1 and the failure printed when the run failed, so
 * that a failed run never hangs or passes for a finished one.
 */
final class BenchMain {
  private BenchMain() {}

  interface Run {
    void run(String[] args) throws Exception;
  }

  static void runThenExit(Run run, String[] args) {
    int status = 0;
    try {
      run.run(args);
    } catch (Throwable failure) {
      failure.printStackTrace();
      status = 1;
    } finally {
      System.out.flush();
      System.err.flush();
    }
    System.exit(status);
  }
}
