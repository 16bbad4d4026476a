package io.edgefleet.testkit.oidc;

import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.proc.SecurityContext;
import jakarta.servlet.http.HttpServletRequest;
import java.security.Principal;
import org.springframework.security.oauth2.core.OAuth2AuthenticationException;
import org.springframework.security.oauth2.core.OAuth2ErrorCodes;
import org.springframework.security.oauth2.core.endpoint.OAuth2ParameterNames;
import org.springframework.security.oauth2.server.authorization.authentication.OAuth2ClientAuthenticationToken;
import org.springframework.security.oauth2.server.authorization.authentication.OAuth2DeviceAuthorizationRequestAuthenticationProvider;
import org.springframework.security.oauth2.server.authorization.authentication.OAuth2DeviceAuthorizationRequestAuthenticationToken;
import org.springframework.security.web.authentication.AuthenticationConverter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.core.annotation.Order;
import org.springframework.core.env.Environment;
import org.springframework.http.MediaType;
import org.springframework.security.authentication.AuthenticationProvider;
import org.springframework.security.config.Customizer;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.GrantedAuthority;
import org.springframework.security.core.userdetails.User;
import org.springframework.security.core.userdetails.UserDetailsService;
import org.springframework.security.oauth2.core.AuthorizationGrantType;
import org.springframework.security.oauth2.core.ClientAuthenticationMethod;
import org.springframework.security.oauth2.core.oidc.OidcIdToken;
import org.springframework.security.oauth2.core.oidc.OidcScopes;
import org.springframework.security.oauth2.jwt.Jwt;
import org.springframework.security.oauth2.jwt.JwtEncoder;
import org.springframework.security.oauth2.jwt.NimbusJwtEncoder;
import org.springframework.security.oauth2.server.authorization.InMemoryOAuth2AuthorizationService;
import org.springframework.security.oauth2.server.authorization.OAuth2Authorization;
import org.springframework.security.oauth2.server.authorization.OAuth2AuthorizationService;
import org.springframework.security.oauth2.server.authorization.OAuth2TokenType;
import org.springframework.security.oauth2.server.authorization.authentication.OAuth2AccessTokenAuthenticationToken;
import org.springframework.security.oauth2.server.authorization.authentication.OAuth2DeviceCodeAuthenticationProvider;
import org.springframework.security.oauth2.server.authorization.authentication.OAuth2DeviceCodeAuthenticationToken;
import org.springframework.security.oauth2.server.authorization.client.InMemoryRegisteredClientRepository;
import org.springframework.security.oauth2.server.authorization.client.RegisteredClient;
import org.springframework.security.oauth2.server.authorization.client.RegisteredClientRepository;
import org.springframework.security.oauth2.server.authorization.context.AuthorizationServerContextHolder;
import org.springframework.security.oauth2.server.authorization.settings.AuthorizationServerSettings;
import org.springframework.security.oauth2.server.authorization.settings.ClientSettings;
import org.springframework.security.oauth2.server.authorization.token.DefaultOAuth2TokenContext;
import org.springframework.security.oauth2.server.authorization.token.DelegatingOAuth2TokenGenerator;
import org.springframework.security.oauth2.server.authorization.token.JwtEncodingContext;
import org.springframework.security.oauth2.server.authorization.token.JwtGenerator;
import org.springframework.security.oauth2.server.authorization.token.OAuth2AccessTokenGenerator;
import org.springframework.security.oauth2.server.authorization.token.OAuth2RefreshTokenGenerator;
import org.springframework.security.oauth2.server.authorization.token.OAuth2TokenCustomizer;
import org.springframework.security.oauth2.server.authorization.token.OAuth2TokenGenerator;
import org.springframework.security.provisioning.InMemoryUserDetailsManager;
import org.springframework.security.web.SecurityFilterChain;
import org.springframework.security.web.authentication.LoginUrlAuthenticationEntryPoint;
import org.springframework.security.web.util.matcher.MediaTypeRequestMatcher;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * A real OpenID Connect provider for tests: Spring Authorization Server with form login, the
 * authorization code flow with PKCE, the device authorization grant, and a {@code groups} claim.
 *
 * <p>Configured by properties (command-line {@code --name=value}):
 *
 * <ul>
 *   <li>{@code server.port}, {@code oidc.issuer}
 *   <li>{@code oidc.users}: {@code name:password:group1|group2;...}
 *   <li>{@code oidc.clients}: {@code id:redirect-uri;...} public clients (PKCE), every grant; an
 *       empty redirect URI for a device-only client; {@code id!secret:redirect-uri} for a
 *       confidential client (HTTP basic authentication, and PKCE too)
 * </ul>
 *
 * <p>{@code POST /test/rotate-key} replaces the signing key by a new one with a new key id.
 *
 * <p>Spring Authorization Server issues no ID token for the device code grant; providers such as
 * Keycloak, Okta and Entra ID do when {@code openid} is asked for. The token endpoint here does the
 * same, with the server's own token generator.
 */
@SpringBootApplication
public class OidcProviderApp {

  public static void main(String[] args) {
    if (java.util.Arrays.asList(args).contains("--oidc.exit-with-parent=true")) {
      // Started by a test: end when the test's JVM does (its end closes our standard input).
      Thread watch =
          new Thread(
              () -> {
                try {
                  while (System.in.read() != -1) {
                    // nothing is sent
                  }
                } catch (java.io.IOException e) {
                  // the parent is gone
                }
                System.exit(0);
              },
              "parent-watch");
      watch.setDaemon(true);
      watch.start();
    }
    SpringApplication.run(OidcProviderApp.class, args);
  }

  /** The signing key, replaced by {@code /test/rotate-key}. */
  static final AtomicReference<RSAKey> KEY = new AtomicReference<>(newKey());

  static RSAKey newKey() {
    try {
      return new RSAKeyGenerator(2048).keyID(UUID.randomUUID().toString()).generate();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @RestController
  static class TestControls {
    @PostMapping(path = "/test/rotate-key", produces = MediaType.APPLICATION_JSON_VALUE)
    Map<String, String> rotate() {
      RSAKey key = newKey();
      KEY.set(key);
      return Map.of("kid", key.getKeyID());
    }
  }

  @Bean
  JWKSource<SecurityContext> jwkSource() {
    return (selector, context) -> selector.select(new JWKSet(KEY.get()));
  }

  @Bean
  JwtEncoder jwtEncoder(JWKSource<SecurityContext> keys) {
    return new NimbusJwtEncoder(keys);
  }

  @Bean
  OAuth2AuthorizationService authorizationService() {
    return new InMemoryOAuth2AuthorizationService();
  }

  @Bean
  OAuth2TokenCustomizer<JwtEncodingContext> groupsClaim() {
    return context -> {
      if (!"id_token".equals(context.getTokenType().getValue())) {
        return;
      }
      List<String> groups = new ArrayList<>();
      for (GrantedAuthority a : context.getPrincipal().getAuthorities()) {
        if (a.getAuthority().startsWith("GROUP_")) {
          groups.add(a.getAuthority().substring("GROUP_".length()));
        }
      }
      String name = context.getPrincipal().getName();
      context.getClaims().claim("groups", groups);
      context.getClaims().claim("preferred_username", name);
      context.getClaims().claim("email", name + "@example.test");
    };
  }

  @Bean
  OAuth2TokenGenerator<?> tokenGenerator(
      JwtEncoder encoder, OAuth2TokenCustomizer<JwtEncodingContext> customizer) {
    JwtGenerator jwt = new JwtGenerator(encoder);
    jwt.setJwtCustomizer(customizer);
    return new DelegatingOAuth2TokenGenerator(
        jwt, new OAuth2AccessTokenGenerator(), new OAuth2RefreshTokenGenerator());
  }

  @Bean
  AuthorizationServerSettings authorizationServerSettings(Environment env) {
    return AuthorizationServerSettings.builder()
        .issuer(env.getRequiredProperty("oidc.issuer"))
        .build();
  }

  @Bean
  RegisteredClientRepository clients(Environment env) {
    List<RegisteredClient> clients = new ArrayList<>();
    for (String spec : env.getProperty("oidc.clients", "").split(";")) {
      if (spec.isBlank()) {
        continue;
      }
      int colon = spec.indexOf(':');
      String id = colon < 0 ? spec : spec.substring(0, colon);
      String redirect = colon < 0 ? "" : spec.substring(colon + 1);
      String secret = null;
      if (id.contains("!")) {
        secret = id.substring(id.indexOf('!') + 1);
        id = id.substring(0, id.indexOf('!'));
      }
      RegisteredClient.Builder b =
          RegisteredClient.withId(UUID.randomUUID().toString())
              .clientId(id)
              .clientAuthenticationMethod(
                  secret == null
                      ? ClientAuthenticationMethod.NONE
                      : ClientAuthenticationMethod.CLIENT_SECRET_BASIC)
              .authorizationGrantType(AuthorizationGrantType.AUTHORIZATION_CODE)
              .authorizationGrantType(AuthorizationGrantType.DEVICE_CODE)
              .authorizationGrantType(AuthorizationGrantType.REFRESH_TOKEN)
              .scope(OidcScopes.OPENID)
              .scope(OidcScopes.PROFILE)
              .scope(OidcScopes.EMAIL)
              .clientSettings(
                  ClientSettings.builder()
                      .requireProofKey(true)
                      .requireAuthorizationConsent(false)
                      .build());
      if (secret != null) {
        b.clientSecret("{noop}" + secret);
      }
      if (!redirect.isBlank()) {
        b.redirectUri(redirect);
      } else {
        b.redirectUri("http://127.0.0.1/unused");
      }
      clients.add(b.build());
    }
    return new InMemoryRegisteredClientRepository(clients);
  }

  @Bean
  UserDetailsService users(Environment env) {
    InMemoryUserDetailsManager users = new InMemoryUserDetailsManager();
    for (String spec : env.getProperty("oidc.users", "").split(";")) {
      if (spec.isBlank()) {
        continue;
      }
      String[] p = spec.split(":", 3);
      List<String> authorities = new ArrayList<>(List.of("ROLE_USER"));
      if (p.length > 2) {
        for (String g : p[2].split("\\|")) {
          if (!g.isBlank()) {
            authorities.add("GROUP_" + g.strip());
          }
        }
      }
      users.createUser(
          User.withUsername(p[0])
              .password("{noop}" + p[1])
              .authorities(authorities.toArray(String[]::new))
              .build());
    }
    return users;
  }

  @Bean
  @Order(1)
  SecurityFilterChain authorizationServer(
      HttpSecurity http,
      RegisteredClientRepository clients,
      OAuth2AuthorizationService authorizations,
      OAuth2TokenGenerator<?> generator)
      throws Exception {
    http.oauth2AuthorizationServer(
            as -> {
              http.securityMatcher(as.getEndpointsMatcher());
              as.oidc(Customizer.withDefaults());
              as.deviceAuthorizationEndpoint(
                  d ->
                      d.authenticationProviders(
                          providers -> {
                            for (int i = 0; i < providers.size(); i++) {
                              if (providers.get(i)
                                  instanceof
                                  OAuth2DeviceAuthorizationRequestAuthenticationProvider p) {
                                providers.set(i, new DeviceRequestWithOpenId(p, authorizations));
                              }
                            }
                          }));
              as.deviceVerificationEndpoint(Customizer.withDefaults());
              // Public clients of the device grant authenticate by their client id alone.
              as.clientAuthentication(
                  c ->
                      c.authenticationConverter(new DeviceClientConverter())
                          .authenticationProvider(new DeviceClientProvider(clients)));
              as.tokenEndpoint(
                  token ->
                      token.authenticationProviders(
                          providers -> {
                            for (int i = 0; i < providers.size(); i++) {
                              if (providers.get(i)
                                  instanceof OAuth2DeviceCodeAuthenticationProvider device) {
                                providers.set(
                                    i, new DeviceCodeWithIdToken(device, authorizations, generator));
                              }
                            }
                          }));
            })
        .authorizeHttpRequests(a -> a.anyRequest().authenticated())
        .exceptionHandling(
            e ->
                e.defaultAuthenticationEntryPointFor(
                    new LoginUrlAuthenticationEntryPoint("/login"),
                    new MediaTypeRequestMatcher(MediaType.TEXT_HTML)));
    return http.build();
  }

  @Bean
  @Order(2)
  SecurityFilterChain login(HttpSecurity http) throws Exception {
    http.authorizeHttpRequests(
            a -> a.requestMatchers("/test/**").permitAll().anyRequest().authenticated())
        .csrf(c -> c.ignoringRequestMatchers("/test/**"))
        .formLogin(Customizer.withDefaults());
    return http.build();
  }

  /** Marks a device authorization that asked for {@code openid}. */
  static final String OPENID_REQUESTED = "edgefleet.openid-requested";

  /**
   * A device authorization request that may ask for {@code openid} (refused by the server's own
   * provider, which issues no ID token for this grant): the scope is set aside and remembered.
   */
  static final class DeviceRequestWithOpenId implements AuthenticationProvider {
    private final AuthenticationProvider delegate;
    private final OAuth2AuthorizationService authorizations;

    DeviceRequestWithOpenId(
        AuthenticationProvider delegate, OAuth2AuthorizationService authorizations) {
      this.delegate = delegate;
      this.authorizations = authorizations;
    }

    @Override
    public Authentication authenticate(Authentication authentication) {
      OAuth2DeviceAuthorizationRequestAuthenticationToken request =
          (OAuth2DeviceAuthorizationRequestAuthenticationToken) authentication;
      if (!request.getScopes().contains(OidcScopes.OPENID)) {
        return delegate.authenticate(authentication);
      }
      java.util.Set<String> scopes = new java.util.LinkedHashSet<>(request.getScopes());
      scopes.remove(OidcScopes.OPENID);
      OAuth2DeviceAuthorizationRequestAuthenticationToken result =
          (OAuth2DeviceAuthorizationRequestAuthenticationToken)
              delegate.authenticate(
                  new OAuth2DeviceAuthorizationRequestAuthenticationToken(
                      (Authentication) request.getPrincipal(),
                      request.getAuthorizationUri(),
                      scopes,
                      request.getAdditionalParameters()));
      OAuth2Authorization authorization =
          authorizations.findByToken(
              result.getDeviceCode().getTokenValue(),
              new OAuth2TokenType(OAuth2ParameterNames.DEVICE_CODE));
      authorizations.save(
          OAuth2Authorization.from(authorization).attribute(OPENID_REQUESTED, true).build());
      return result;
    }

    @Override
    public boolean supports(Class<?> type) {
      return OAuth2DeviceAuthorizationRequestAuthenticationToken.class.isAssignableFrom(type);
    }
  }

  /** The client of a device authorization or device code request: a public client. */
  static final class DeviceClientConverter implements AuthenticationConverter {
    @Override
    public Authentication convert(HttpServletRequest request) {
      if (!"POST".equals(request.getMethod())) {
        return null;
      }
      boolean device =
          request.getRequestURI().endsWith("/oauth2/device_authorization")
              || AuthorizationGrantType.DEVICE_CODE
                  .getValue()
                  .equals(request.getParameter(OAuth2ParameterNames.GRANT_TYPE));
      String clientId = request.getParameter(OAuth2ParameterNames.CLIENT_ID);
      if (!device
          || clientId == null
          || request.getParameter(OAuth2ParameterNames.CLIENT_SECRET) != null
          || request.getHeader("Authorization") != null) {
        return null;
      }
      return new OAuth2ClientAuthenticationToken(
          clientId, ClientAuthenticationMethod.NONE, null, Map.of("device", true));
    }
  }

  /** Accepts a public client for the device grant; leaves every other request to the others. */
  static final class DeviceClientProvider implements AuthenticationProvider {
    private final RegisteredClientRepository clients;

    DeviceClientProvider(RegisteredClientRepository clients) {
      this.clients = clients;
    }

    @Override
    public Authentication authenticate(Authentication authentication) {
      OAuth2ClientAuthenticationToken token = (OAuth2ClientAuthenticationToken) authentication;
      if (!ClientAuthenticationMethod.NONE.equals(token.getClientAuthenticationMethod())
          || !Boolean.TRUE.equals(token.getAdditionalParameters().get("device"))) {
        return null;
      }
      RegisteredClient client = clients.findByClientId((String) token.getPrincipal());
      if (client == null
          || !client.getClientAuthenticationMethods().contains(ClientAuthenticationMethod.NONE)) {
        throw new OAuth2AuthenticationException(OAuth2ErrorCodes.INVALID_CLIENT);
      }
      return new OAuth2ClientAuthenticationToken(client, ClientAuthenticationMethod.NONE, null);
    }

    @Override
    public boolean supports(Class<?> type) {
      return OAuth2ClientAuthenticationToken.class.isAssignableFrom(type);
    }
  }

  /** The device code grant, with an ID token when {@code openid} was granted. */
  static final class DeviceCodeWithIdToken implements AuthenticationProvider {
    private final AuthenticationProvider delegate;
    private final OAuth2AuthorizationService authorizations;
    private final OAuth2TokenGenerator<?> generator;

    DeviceCodeWithIdToken(
        AuthenticationProvider delegate,
        OAuth2AuthorizationService authorizations,
        OAuth2TokenGenerator<?> generator) {
      this.delegate = delegate;
      this.authorizations = authorizations;
      this.generator = generator;
    }

    @Override
    public Authentication authenticate(Authentication authentication) {
      OAuth2AccessTokenAuthenticationToken result =
          (OAuth2AccessTokenAuthenticationToken) delegate.authenticate(authentication);
      OAuth2Authorization authorization =
          result == null
              ? null
              : authorizations.findByToken(
                  result.getAccessToken().getTokenValue(), OAuth2TokenType.ACCESS_TOKEN);
      if (authorization == null || authorization.getAttribute(OPENID_REQUESTED) == null) {
        return result;
      }
      java.util.Set<String> scopes = new java.util.LinkedHashSet<>(authorization.getAuthorizedScopes());
      scopes.add(OidcScopes.OPENID);
      Authentication principal = authorization.getAttribute(Principal.class.getName());
      DefaultOAuth2TokenContext context =
          DefaultOAuth2TokenContext.builder()
              .registeredClient(result.getRegisteredClient())
              .principal(principal)
              .authorizationServerContext(AuthorizationServerContextHolder.getContext())
              .authorization(authorization)
              .authorizedScopes(scopes)
              .tokenType(new OAuth2TokenType("id_token"))
              .authorizationGrantType(AuthorizationGrantType.DEVICE_CODE)
              .authorizationGrant(authentication)
              .build();
      Jwt jwt = (Jwt) generator.generate(context);
      OidcIdToken idToken =
          new OidcIdToken(jwt.getTokenValue(), jwt.getIssuedAt(), jwt.getExpiresAt(), jwt.getClaims());
      authorizations.save(
          OAuth2Authorization.from(authorization)
              .token(
                  idToken,
                  m -> m.put(OAuth2Authorization.Token.CLAIMS_METADATA_NAME, idToken.getClaims()))
              .build());
      Map<String, Object> parameters = new HashMap<>(result.getAdditionalParameters());
      parameters.put("id_token", idToken.getTokenValue());
      return new OAuth2AccessTokenAuthenticationToken(
          result.getRegisteredClient(),
          (Authentication) result.getPrincipal(),
          result.getAccessToken(),
          result.getRefreshToken(),
          parameters);
    }

    @Override
    public boolean supports(Class<?> type) {
      return OAuth2DeviceCodeAuthenticationToken.class.isAssignableFrom(type);
    }
  }
}
