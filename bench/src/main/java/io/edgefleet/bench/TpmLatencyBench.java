package io.edgefleet.bench;

import io.edgefleet.device.tpm.TpmDevice;
import io.edgefleet.device.tpm.TpmTemplates;
import io.edgefleet.protocol.TpmChallenge;
import io.edgefleet.protocol.tpm.TpmBuffer;
import io.edgefleet.testkit.Swtpm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Latency of the device's TPM operations on a real swtpm: the Java-marshalled commands over one
 * open connection, against forking tpm2-tools for each call (what a shell-out implementation would
 * do). Each operation includes recreating its primary key and flushing it, as the agent does.
 *
 * <pre>bench/tpm.sh [--rounds N]</pre>
 */
public final class TpmLatencyBench {
  private static final String AK_TOOLS =
      "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign";
  private static final String DEVICE_KEY_TOOLS =
      "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign|decrypt";

  private TpmLatencyBench() {}

  public static void main(String[] args) throws Exception {
    int rounds = args.length >= 2 && args[0].equals("--rounds") ? Integer.parseInt(args[1]) : 50;
    Path work = Files.createTempDirectory("tpm-bench");
    Map<String, double[]> results = new LinkedHashMap<>();
    try (Swtpm swtpm = Swtpm.start()) {
      String tcti = swtpm.tctiForTools();
      // swtpm serves one connection at a time: Java and the tools take turns.
      byte[] akName;
      try (TpmDevice tpm = TpmDevice.open(swtpm.endpoint().toString())) {
        akName = tpm.akPublic().name();
      }
      tools(work, tcti, "tpm2_readpublic", "-Q", "-c", "0x81010001", "-f", "pem", "-o", "ek.pem");
      byte[] secret = new byte[32];
      new SecureRandom().nextBytes(secret);
      Files.write(work.resolve("secret.bin"), secret);
      tools(
          work,
          "none",
          "tpm2_makecredential",
          "-Q",
          "-T",
          "none",
          "-u",
          "ek.pem",
          "-G",
          "rsa",
          "-s",
          "secret.bin",
          "-n",
          HexFormat.of().formatHex(akName),
          "-o",
          "cred.blob");
      TpmChallenge challenge = challenge(Files.readAllBytes(work.resolve("cred.blob")));
      byte[] salt = new byte[TpmTemplates.SALT_BYTES];
      new SecureRandom().nextBytes(salt);
      byte[] digest = new byte[32];
      byte[] nonce = new byte[32];
      Files.write(work.resolve("digest.bin"), digest);

      try (TpmDevice tpm = TpmDevice.open(swtpm.endpoint().toString())) {
        if (!Arrays.equals(tpm.activateCredential(challenge), secret)) {
          throw new IllegalStateException("the Java activation did not recover the secret");
        }
        results.put("java sign", time(rounds, () -> tpm.sign(salt, digest)));
        results.put(
            "java quote (3 PCRs)", time(rounds, () -> tpm.quote(nonce, List.of(0, 1, 7), null)));
        results.put("java activate", time(rounds, () -> tpm.activateCredential(challenge)));
        results.put("java certify", time(rounds, () -> tpm.certifyDeviceKey(salt)));
      }
      results.put(
          "tpm2-tools sign (3 forks)",
          time(
              rounds,
              () -> {
                tools(
                    work,
                    tcti,
                    "tpm2_createprimary",
                    "-Q",
                    "-C",
                    "o",
                    "-G",
                    "ecc256",
                    "-a",
                    DEVICE_KEY_TOOLS,
                    "-c",
                    "k.ctx");
                tools(
                    work,
                    tcti,
                    "tpm2_sign",
                    "-Q",
                    "-c",
                    "k.ctx",
                    "-g",
                    "sha256",
                    "-s",
                    "ecdsa",
                    "-d",
                    "-o",
                    "sig.bin",
                    "digest.bin");
                tools(work, tcti, "tpm2_flushcontext", "-t");
              }));
      results.put(
          "tpm2-tools quote (3 forks)",
          time(
              rounds,
              () -> {
                ak(work, tcti);
                tools(
                    work,
                    tcti,
                    "tpm2_quote",
                    "-Q",
                    "-c",
                    "ak.ctx",
                    "-l",
                    "sha256:0,1,7",
                    "-q",
                    HexFormat.of().formatHex(nonce),
                    "-m",
                    "msg",
                    "-s",
                    "sig",
                    "-o",
                    "pcrs");
                tools(work, tcti, "tpm2_flushcontext", "-t");
              }));
      results.put(
          "tpm2-tools activate (6 forks)",
          time(
              rounds,
              () -> {
                ak(work, tcti);
                tools(work, tcti, "tpm2_startauthsession", "-Q", "--policy-session", "-S", "s.ctx");
                tools(work, tcti, "tpm2_policysecret", "-Q", "-S", "s.ctx", "-c", "e");
                tools(
                    work,
                    tcti,
                    "tpm2_activatecredential",
                    "-Q",
                    "-c",
                    "ak.ctx",
                    "-C",
                    "0x81010001",
                    "-i",
                    "cred.blob",
                    "-o",
                    "out.bin",
                    "-P",
                    "session:s.ctx");
                tools(work, tcti, "tpm2_flushcontext", "s.ctx");
                tools(work, tcti, "tpm2_flushcontext", "-t");
              }));
      if (!Arrays.equals(Files.readAllBytes(work.resolve("out.bin")), secret)) {
        throw new IllegalStateException("tpm2_activatecredential did not recover the secret");
      }
    }
    StringBuilder json = new StringBuilder("{\n  \"rounds\": " + rounds + ",\n  \"ms\": {\n");
    System.out.printf("%-32s %9s %9s %9s%n", "operation (swtpm, loopback)", "median", "p95", "max");
    int i = 0;
    for (Map.Entry<String, double[]> e : results.entrySet()) {
      double[] v = e.getValue();
      System.out.printf(
          Locale.ROOT, "%-32s %7.2fms %7.2fms %7.2fms%n", e.getKey(), v[0], v[1], v[2]);
      json.append(
          String.format(
              Locale.ROOT,
              "    \"%s\": {\"median\": %.2f, \"p95\": %.2f, \"max\": %.2f}%s\n",
              e.getKey(),
              v[0],
              v[1],
              v[2],
              ++i < results.size() ? "," : ""));
    }
    json.append("  }\n}\n");
    Path out = Path.of(System.getProperty("tpm.bench.out", "bench/results/tpm-latency.json"));
    Files.createDirectories(out.toAbsolutePath().getParent());
    Files.writeString(out, json);
    System.out.println("wrote " + out);
  }

  private static void ak(Path work, String tcti) {
    tools(
        work,
        tcti,
        "tpm2_createprimary",
        "-Q",
        "-C",
        "e",
        "-G",
        "ecc256:ecdsa-sha256:null",
        "-a",
        AK_TOOLS,
        "-c",
        "ak.ctx");
  }

  /** The tools' credential file: magic, version, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET. */
  private static TpmChallenge challenge(byte[] file) {
    TpmBuffer.Reader r = new TpmBuffer.Reader(file);
    r.u32();
    r.u32();
    byte[] blob = r.sized();
    byte[] secret = r.sized();
    Base64.Encoder b64 = Base64.getEncoder();
    return new TpmChallenge(
        b64.encodeToString(new TpmBuffer.Writer().sized(blob).toBytes()),
        b64.encodeToString(new TpmBuffer.Writer().sized(secret).toBytes()),
        b64.encodeToString(new byte[32]),
        List.of(0));
  }

  /** Median, 95th percentile and maximum in milliseconds, after a few warm-up runs. */
  private static double[] time(int rounds, Runnable op) {
    for (int i = 0; i < 5; i++) {
      op.run();
    }
    List<Double> ms = new ArrayList<>();
    for (int i = 0; i < rounds; i++) {
      long t0 = System.nanoTime();
      op.run();
      ms.add((System.nanoTime() - t0) / 1e6);
    }
    ms.sort(null);
    return new double[] {
      ms.get(ms.size() / 2), ms.get((int) Math.ceil(ms.size() * 0.95) - 1), ms.getLast()
    };
  }

  private static void tools(Path work, String tcti, String... command) {
    try {
      ProcessBuilder pb = new ProcessBuilder(command).directory(work.toFile());
      pb.environment().put("TPM2TOOLS_TCTI", tcti.equals("none") ? "none" : tcti);
      pb.redirectErrorStream(true);
      Process p = pb.start();
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IllegalStateException(
            String.join(" ", command) + " failed: " + new String(out).strip());
      }
    } catch (java.io.IOException e) {
      throw new IllegalStateException(
          command[0] + " cannot be run (apt-get install tpm2-tools)", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
