package io.edgefleet.simulator;

import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * One key manager for every simulated device: each TLS engine is tied to the device that opened it,
 * and the handshake presents that device's key and certificate. One shared {@code SSLContext}
 * instead of one per device keeps the cost per device to its key and certificate. An engine not
 * tied to a device (enrollment) presents no certificate. Thread-safe.
 */
final class DeviceKeys extends X509ExtendedKeyManager {

  /** What a device presents. */
  record Credential(String alias, PrivateKey key, X509Certificate[] chain) {}

  private final Map<SSLEngine, Credential> engines = new ConcurrentHashMap<>();
  private final Map<String, Credential> aliases = new ConcurrentHashMap<>();

  void bind(SSLEngine engine, Credential credential) {
    aliases.put(credential.alias(), credential);
    engines.put(engine, credential);
  }

  void release(SSLEngine engine) {
    engines.remove(engine);
  }

  @Override
  public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
    Credential c = engine == null ? null : engines.get(engine);
    if (c == null) {
      return null;
    }
    return c.alias();
  }

  @Override
  public X509Certificate[] getCertificateChain(String alias) {
    Credential c = aliases.get(alias);
    return c == null ? null : c.chain();
  }

  @Override
  public PrivateKey getPrivateKey(String alias) {
    Credential c = aliases.get(alias);
    return c == null ? null : c.key();
  }

  @Override
  public String[] getClientAliases(String keyType, Principal[] issuers) {
    return null;
  }

  @Override
  public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
    return null;
  }

  @Override
  public String[] getServerAliases(String keyType, Principal[] issuers) {
    return null;
  }

  @Override
  public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
    return null;
  }
}
