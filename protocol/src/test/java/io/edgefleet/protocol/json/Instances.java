package io.edgefleet.protocol.json;

import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;

/**
 * Random instances of the protocol's records, deterministic per seed: every component filled with
 * values that stress JSON (nulls, empty collections, defaults, extremes, escapes, NaN), nested
 * records and every subtype of a sealed interface. Components whose record validates its values get
 * a valid value from {@link #hints}.
 */
final class Instances {
  private final Random random;
  private final Map<String, Function<Random, Object>> hints;

  Instances(long seed, Map<String, Function<Random, Object>> hints) {
    this.random = new Random(seed);
    this.hints = hints;
  }

  /** Every record and sealed interface reachable from {@code roots} through components. */
  static Set<Class<?>> reachable(List<Class<?>> roots) {
    Set<Class<?>> seen = new LinkedHashSet<>();
    Deque<Type> todo = new ArrayDeque<>(roots);
    while (!todo.isEmpty()) {
      Type t = todo.pop();
      if (t instanceof ParameterizedType p) {
        todo.addAll(List.of(p.getActualTypeArguments()));
        continue;
      }
      if (!(t instanceof Class<?> c) || !seen.add(c)) {
        continue;
      }
      if (c.isSealed()) {
        todo.addAll(List.of(c.getPermittedSubclasses()));
      }
      if (c.isRecord()) {
        for (RecordComponent rc : c.getRecordComponents()) {
          todo.push(rc.getGenericType());
        }
      }
    }
    seen.removeIf(c -> !c.isRecord() && !c.isSealed());
    return seen;
  }

  /** An instance of {@code type} (never null at the top). */
  Object of(Class<?> type) {
    for (int attempt = 0; ; attempt++) {
      try {
        return value(type, 0, false);
      } catch (IllegalArgumentException | NullPointerException e) {
        // The record refused these values (a validating constructor): draw again.
        if (attempt > 50) {
          throw new IllegalStateException("cannot make a valid " + type, e);
        }
      }
    }
  }

  private boolean chance(int percent) {
    return random.nextInt(100) < percent;
  }

  private Object value(Type type, int depth, boolean nullable) {
    Class<?> raw = JsonCodec.Types.raw(type);
    if (nullable && !raw.isPrimitive() && chance(depth > 3 ? 60 : 12)) {
      return null;
    }
    if (raw == String.class) {
      return string();
    }
    if (raw == int.class || raw == Integer.class) {
      return switch (random.nextInt(6)) {
        case 0 -> 0;
        case 1 -> Integer.MAX_VALUE;
        case 2 -> Integer.MIN_VALUE;
        case 3 -> -1;
        default -> random.nextInt(100_000);
      };
    }
    if (raw == long.class || raw == Long.class) {
      return switch (random.nextInt(7)) {
        case 0 -> 0L;
        case 1 -> Long.MAX_VALUE;
        case 2 -> Long.MIN_VALUE;
        case 3 -> (1L << 53) - 1;
        case 4 -> -1L;
        default -> random.nextLong();
      };
    }
    if (raw == double.class || raw == Double.class) {
      return switch (random.nextInt(10)) {
        case 0 -> 0.0;
        case 1 -> -0.0;
        case 2 -> Double.NaN;
        case 3 -> Double.POSITIVE_INFINITY;
        case 4 -> Double.MIN_VALUE;
        case 5 -> Double.MAX_VALUE;
        case 6 -> (double) random.nextInt(1000);
        default -> (random.nextDouble() - 0.5) * Math.pow(10, random.nextInt(40) - 20);
      };
    }
    if (raw == boolean.class || raw == Boolean.class) {
      return random.nextBoolean();
    }
    if (raw == Instant.class) {
      long seconds =
          chance(10)
              ? (chance(50) ? -62135596800L : 253402300799L)
              : random.nextLong(0, 4_102_444_800L);
      int nanos =
          switch (random.nextInt(4)) {
            case 0 -> 0;
            case 1 -> random.nextInt(1000) * 1_000_000;
            case 2 -> random.nextInt(1_000_000) * 1000;
            default -> random.nextInt(1_000_000_000);
          };
      return Instant.ofEpochSecond(seconds, nanos);
    }
    if (raw.isEnum()) {
      Object[] cs = raw.getEnumConstants();
      return cs[random.nextInt(cs.length)];
    }
    if (raw == Object.class) {
      return untyped(depth);
    }
    if (List.class.isAssignableFrom(raw) || Set.class.isAssignableFrom(raw)) {
      Type element = JsonCodec.Types.argument(type, java.util.Collection.class, 0);
      int n = size(depth);
      List<Object> l = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        l.add(value(element, depth + 1, false));
      }
      return Set.class.isAssignableFrom(raw) ? new LinkedHashSet<>(l) : l;
    }
    if (Map.class.isAssignableFrom(raw)) {
      Type key = JsonCodec.Types.argument(type, Map.class, 0);
      Type v = JsonCodec.Types.argument(type, Map.class, 1);
      int n = size(depth);
      Map<Object, Object> m = new LinkedHashMap<>();
      for (int i = 0; i < n; i++) {
        Object k = key == Integer.class ? (Object) random.nextInt(-5, 30) : string();
        m.put(k, value(v, depth + 1, false));
      }
      return m;
    }
    if (raw.isSealed() && !raw.isRecord()) {
      Class<?>[] subs = raw.getPermittedSubclasses();
      return value(subs[random.nextInt(subs.length)], depth, false);
    }
    if (raw.isRecord()) {
      RecordComponent[] rcs = raw.getRecordComponents();
      Object[] args = new Object[rcs.length];
      Class<?>[] params = new Class<?>[rcs.length];
      for (int i = 0; i < rcs.length; i++) {
        params[i] = rcs[i].getType();
        Function<Random, Object> hint = hints.get(raw.getSimpleName() + "." + rcs[i].getName());
        args[i] =
            hint != null ? hint.apply(random) : value(rcs[i].getGenericType(), depth + 1, true);
      }
      try {
        var ctor = raw.getDeclaredConstructor(params);
        ctor.setAccessible(true);
        return ctor.newInstance(args);
      } catch (java.lang.reflect.InvocationTargetException e) {
        if (e.getCause() instanceof RuntimeException re) {
          throw re;
        }
        throw new IllegalStateException(e.getCause());
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException(e);
      }
    }
    throw new IllegalStateException("no generator for " + type);
  }

  private int size(int depth) {
    if (depth > 4) {
      return 0;
    }
    return switch (random.nextInt(4)) {
      case 0 -> 0;
      case 1 -> 1;
      default -> 1 + random.nextInt(4);
    };
  }

  private static final String[] PIECES = {
    "a",
    "Z",
    "0",
    " ",
    "\"",
    "\\",
    "/",
    "\n",
    "\t",
    "\u0000",
    "\u001f",
    "é",
    "日本",
    "\uD83D\uDE80",
    "\u2028",
    "<",
    "&",
    "sha256:",
    "v1",
    "-",
    "."
  };

  private String string() {
    if (chance(10)) {
      return "";
    }
    int n = 1 + random.nextInt(12);
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < n; i++) {
      b.append(PIECES[random.nextInt(PIECES.length)]);
    }
    return b.toString();
  }

  /** What Jackson reads into {@code Object}: so written and read back, equal to itself. */
  private Object untyped(int depth) {
    int k = random.nextInt(depth > 2 ? 6 : 8);
    return switch (k) {
      case 0 -> string();
      case 1 -> random.nextInt();
      case 2 -> Integer.MAX_VALUE + 1L + random.nextInt(1000);
      case 3 -> random.nextBoolean();
      case 4 -> random.nextDouble() * 100;
      case 5 -> new java.math.BigInteger("123456789012345678901234567890");
      case 6 -> {
        List<Object> l = new ArrayList<>();
        for (int i = size(depth); i > 0; i--) {
          l.add(untyped(depth + 1));
        }
        yield l;
      }
      default -> {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = size(depth); i > 0; i--) {
          m.put(string(), untyped(depth + 1));
        }
        yield m;
      }
    };
  }
}
