package io.edgefleet.simulator;

import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.SecureRandom;
import java.security.spec.RSAPrivateCrtKeySpec;
import java.security.spec.RSAPublicKeySpec;
import java.util.ArrayList;
import java.util.List;

/**
 * RSA 2048 endorsement keys for simulated TPMs, cheaply and each distinct: generating a key takes
 * 100 to 200 ms of CPU, which for 10,000 devices is half an hour. Instead the pool generates
 * 1024-bit primes as needed and makes the n-th key from the n-th pair of them, so {@code k} primes
 * give {@code k(k-1)/2} distinct keys: 150 primes (about 15 s of CPU) serve 11,175 devices, each
 * with its own modulus, as a controller that tells devices apart by their EK sees it. Keys that
 * share primes are worthless outside a simulation. Thread-safe.
 */
final class EkPool {
  private static final BigInteger E = BigInteger.valueOf(65537);

  /** Each prime has its top two bits set, so the product of two has exactly 2048 bits. */
  private static final BigInteger MIN = BigInteger.valueOf(3).shiftLeft(1022);

  private final SecureRandom random = new SecureRandom();
  private final List<BigInteger> primes = new ArrayList<>();
  private long next;

  /** Primes generated so far. */
  synchronized int primes() {
    return primes.size();
  }

  /** The next key: a modulus no earlier key of this pool had. */
  KeyPair next() {
    long n;
    synchronized (this) {
      n = next++;
    }
    // Pair n = (a, b), a < b, enumerated b = 1, 2, ...: (0,1), (0,2), (1,2), (0,3), ...
    int b = (int) ((1 + Math.sqrt(1 + 8.0 * n)) / 2);
    while ((long) b * (b - 1) / 2 > n) {
      b--;
    }
    while ((long) (b + 1) * b / 2 <= n) {
      b++;
    }
    int a = (int) (n - (long) b * (b - 1) / 2);
    return key(prime(a), prime(b));
  }

  private BigInteger prime(int i) {
    synchronized (this) {
      while (primes.size() <= i) {
        primes.add(newPrime());
      }
      return primes.get(i);
    }
  }

  private BigInteger newPrime() {
    while (true) {
      BigInteger p = BigInteger.probablePrime(1024, random);
      if (p.compareTo(MIN) >= 0 && p.subtract(BigInteger.ONE).gcd(E).equals(BigInteger.ONE)) {
        return p;
      }
    }
  }

  static KeyPair key(BigInteger p, BigInteger q) {
    try {
      BigInteger n = p.multiply(q);
      BigInteger p1 = p.subtract(BigInteger.ONE);
      BigInteger q1 = q.subtract(BigInteger.ONE);
      BigInteger lambda = p1.divide(p1.gcd(q1)).multiply(q1);
      BigInteger d = E.modInverse(lambda);
      KeyFactory f = KeyFactory.getInstance("RSA");
      return new KeyPair(
          f.generatePublic(new RSAPublicKeySpec(n, E)),
          f.generatePrivate(
              new RSAPrivateCrtKeySpec(n, E, d, p, q, d.mod(p1), d.mod(q1), q.modInverse(p))));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }
}
