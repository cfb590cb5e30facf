import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** The Java agent's benchmark workloads (benchmarks/java/bench.py runs them): prints the
 * CPU nanoseconds of the main thread that the work took, start-up excluded (CPU time, not
 * wall time: the shared machine's load would drown the difference; the agent's error and
 * dev-mode recording runs on the program's thread, compression on its flushing thread).
 *
 *   java Workload dense N      fib(N): nothing but calls
 *   java Workload records N    N order lines as text, parsed, validated, totalled per
 *                              customer and formatted as a report (a realistic mix) */
public class Workload {
    static int fib(int n) {
        return n < 2 ? n : fib(n - 1) + fib(n - 2);
    }

    record Line(String customer, String item, int quantity, long cents) {
        long total() {
            return quantity * cents;
        }
    }

    static List<String> makeText(int n) {
        List<String> text = new ArrayList<>(n);
        String[] items = {"apple", "pear", "fig", "plum", "kiwi"};
        for (int i = 0; i < n; i++) {
            text.add("cust" + (i % 97) + ";" + items[i % items.length] + ";" + (1 + i % 7) + ";" + (99 + i % 400));
        }
        return text;
    }

    static Line parse(String row) {
        String[] f = row.split(";");
        return new Line(f[0], f[1], Integer.parseInt(f[2]), Long.parseLong(f[3]));
    }

    static boolean valid(Line line) {
        return line.quantity() > 0 && line.cents() > 0 && !line.customer().isEmpty();
    }

    static Map<String, Long> totals(List<Line> lines) {
        Map<String, Long> sums = new HashMap<>();
        for (Line line : lines) {
            if (valid(line)) {
                sums.merge(line.customer(), line.total(), Long::sum);
            }
        }
        return sums;
    }

    static String format(String customer, long cents) {
        return String.format("%-8s %10.2f%n", customer, cents / 100.0);
    }

    static String report(Map<String, Long> totals) {
        StringBuilder out = new StringBuilder();
        for (Map.Entry<String, Long> e : new TreeMap<>(totals).entrySet()) {
            out.append(format(e.getKey(), e.getValue()));
        }
        return out.toString();
    }

    static int records(int n) {
        List<String> text = makeText(n);
        List<Line> lines = new ArrayList<>(n);
        for (String row : text) {
            lines.add(parse(row));
        }
        return report(totals(lines)).length();
    }

    /** Runs the work `rounds` times (third argument, default 1) and prints each round's
     * time: the first pays for loading (and instrumenting) classes, later ones are warm. */
    public static void main(String[] args) {
        int n = Integer.parseInt(args[1]);
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 1;
        ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
        StringBuilder times = new StringBuilder();
        for (int round = 0; round < rounds; round++) {
            long start = cpu.getCurrentThreadCpuTime();
            long result = args[0].equals("dense") ? fib(n) : records(n);
            times.append(cpu.getCurrentThreadCpuTime() - start).append(result < 0 ? "!" : "").append(' ');
        }
        System.out.println(times.toString().trim());
    }
}
